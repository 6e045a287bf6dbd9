// Compute pipelines: one function specialised by its function-constant values. The Context
// caches the result; this file only builds it.

#include <cstring>

#include "metal_check_missing_api.h"
#include "metal_internal.h"
#include "metallic/error.hpp"

namespace metallic::metal {
namespace {

// Sets one [[function_constant(i)]] from the bits FunctionConstant stores (little-endian,
// zero-extended), typed as the MSL declaration names it.
void set_constant(MTLFunctionConstantValues* values, const FunctionConstant& c) {
  uint8_t b = 0;
  uint16_t u16 = 0;
  uint32_t u32 = 0;
  std::memcpy(&u16, &c.bits, sizeof u16);
  std::memcpy(&u32, &c.bits, sizeof u32);
  NSUInteger index = c.index;
  switch (c.type) {
    case FunctionConstant::Type::Bool:
      b = c.bits != 0;
      [values setConstantValue:&b type:MTLDataTypeBool atIndex:index];
      return;
    case FunctionConstant::Type::Int:
      [values setConstantValue:&u32 type:MTLDataTypeInt atIndex:index];
      return;
    case FunctionConstant::Type::UInt:
      [values setConstantValue:&u32 type:MTLDataTypeUInt atIndex:index];
      return;
    case FunctionConstant::Type::Short:
      [values setConstantValue:&u16 type:MTLDataTypeShort atIndex:index];
      return;
    case FunctionConstant::Type::UShort:
      [values setConstantValue:&u16 type:MTLDataTypeUShort atIndex:index];
      return;
    case FunctionConstant::Type::Float:
      [values setConstantValue:&u32 type:MTLDataTypeFloat atIndex:index];
      return;
    case FunctionConstant::Type::Half:
      [values setConstantValue:&u16 type:MTLDataTypeHalf atIndex:index];
      return;
  }
  throw ArgumentError("function constant " + std::to_string(c.index) + " has an unknown type");
}

std::string describe(const std::string& library, const std::string& function) {
  return "function '" + function + "' of Metal library '" + library + "'";
}

// The [[buffer]] and [[threadgroup]] parameters the pipeline reflects, for custom-kernel argument
// checks (Pipeline::arguments). Metal reflects sizes, not source spellings: `type` stays empty and
// `is_reference` false, which checks whole elements rather than exactly one. A parameter the
// function does not use may stay unbound on Metal, so it is optional.
std::vector<KernelArgument> reflected_arguments(MTLComputePipelineReflection* reflection) {
  std::vector<KernelArgument> out;
  for (id<MTLBinding> binding in reflection.bindings) {
    KernelArgument a;
    a.index = static_cast<uint32_t>(binding.index);
    a.name = to_std(binding.name);
    a.optional = !binding.used;
    if (binding.type == MTLBindingTypeBuffer) {
      id<MTLBufferBinding> buffer = (id<MTLBufferBinding>)binding;
      a.kind = KernelArgument::Kind::Buffer;
      // An argument buffer's size says nothing about what a caller binds.
      a.element_size = buffer.bufferPointerType.elementIsArgumentBuffer ? 0 : buffer.bufferDataSize;
    } else if (binding.type == MTLBindingTypeThreadgroupMemory) {
      a.kind = KernelArgument::Kind::Threadgroup;
      a.element_size = ((id<MTLThreadgroupBinding>)binding).threadgroupMemoryDataSize;
    } else {
      continue;  // textures, samplers: not something a metallic dispatch binds
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

PipelinePtr make_metal_pipeline(DeviceState& state, const LibraryPtr& library,
                                const std::string& function, const FunctionConstants& constants) {
  @autoreleasepool {
    auto* lib = dynamic_cast<MetalLibrary*>(library.get());
    if (!lib) throw ArgumentError("make_pipeline: the library was not loaded by the Metal device");
    if (!lib->has_function(function)) {
      std::string names;
      for (const std::string& n : lib->function_names()) names += (names.empty() ? "" : ", ") + n;
      throw ArgumentError("Metal library '" + lib->name() + "' has no function '" + function +
                          "' (it has: " + names + ")");
    }
    NSError* error = nil;
    // Without constants the plain lookup returns the compiled function (the specialising call
    // compiles it again, synchronously). A function that declares constants must still be
    // specialised, even with none given: Metal then applies the defaults or names the
    // required constants that are missing.
    id<MTLFunction> fn = nil;
    if (constants.empty()) fn = [lib->mtl() newFunctionWithName:to_ns(function)];
    if (!fn || fn.functionConstantsDictionary.count != 0) {
      MTLFunctionConstantValues* values = [[MTLFunctionConstantValues alloc] init];
      for (const FunctionConstant& c : constants) set_constant(values, c);
      fn = [lib->mtl() newFunctionWithName:to_ns(function) constantValues:values error:&error];
    }
    if (!fn) {
      throw KernelCompileError("cannot specialise " + describe(lib->name(), function) +
                               " with its function constants: " + error_text(error));
    }
    MTLComputePipelineDescriptor* desc = [[MTLComputePipelineDescriptor alloc] init];
    desc.computeFunction = fn;
    desc.label = to_ns(function);  // names the pipeline in GPU captures
    MTLAutoreleasedComputePipelineReflection reflection = nil;
    id<MTLComputePipelineState> pipeline =
        [state.device newComputePipelineStateWithDescriptor:desc
                                                    options:MTLPipelineOptionBindingInfo
                                                 reflection:&reflection
                                                      error:&error];
    if (!pipeline) {
      throw KernelCompileError("cannot build a compute pipeline for " +
                               describe(lib->name(), function) + ": " + error_text(error));
    }
    return std::make_shared<MetalPipeline>(function, pipeline, reflected_arguments(reflection));
  }
}

}  // namespace metallic::metal
