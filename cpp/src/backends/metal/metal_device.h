// The Metal device: the part of metallic that runs only on a Mac. This header is plain C++ so
// src/core can include it under METALLIC_HAVE_METAL; the Objective-C++ lives in the .mm files
// beside it (metal_internal.h). See docs/metal-device.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "metallic/device.hpp"
#include "metallic/dtype.hpp"

namespace metallic {

/// The system default Metal device with its own command queue; throws DeviceError without one.
std::unique_ptr<Device> create_metal_device(const DeviceOptions& options);

namespace metal {

/// Starts an Xcode GPU capture of all Metal work into `path` (a new `.gputrace` document).
/// Needs MTL_CAPTURE_ENABLED=1 in the environment before the process first touches Metal.
void capture_begin(const std::string& path);
/// Ends the capture started by capture_begin; does nothing when no capture is running.
void capture_end();

/// Encodes a MatmulCommand with MPSMatrixMultiplication into a Metal command buffer (ending its
/// open compute encoder). Throws ArgumentError/DTypeError for invalid arguments or a command buffer
/// of another device.
void encode_mps_matmul(CommandBuffer& command_buffer, const MatmulCommand& args);

}  // namespace metal
}  // namespace metallic
