// DLPack: Tensor.__dlpack__ / __dlpack_device__ (zero-copy export: np.from_dlpack,
// torch.from_dlpack) and metallic.from_dlpack (import, as a copy into a new tensor). The structs
// below are the DLPack ABI (dlpack.h, v1.0), declared here from the specification.
#include <pybind11/pybind11.h>

#include <cstring>
#include <vector>

#include "metallic/context.hpp"
#include "metallic/error.hpp"
#include "python/bindings.hpp"
#include "python/convert.hpp"

namespace py = pybind11;

namespace metallic::python {

namespace {

// ---- the DLPack ABI ---------------------------------------------------------------------------
constexpr int32_t kDLCPU = 1;
enum : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 };
constexpr uint64_t kFlagIsCopied = 1u << 1;

struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; null: compact row-major
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
};

constexpr const char* kLegacyName = "dltensor";
constexpr const char* kVersionedName = "dltensor_versioned";

DLDataType dl_dtype(DType t) {
  switch (t) {
    case DType::F32:
      return {kDLFloat, 32, 1};
    case DType::F16:
      return {kDLFloat, 16, 1};
    case DType::BF16:
      return {kDLBfloat, 16, 1};
    case DType::I32:
      return {kDLInt, 32, 1};
    case DType::U32:
      return {kDLUInt, 32, 1};
    case DType::I8:
      return {kDLInt, 8, 1};
    case DType::U8:
      return {kDLUInt, 8, 1};
    case DType::I64:
      return {kDLInt, 64, 1};
  }
  throw DTypeError("unsupported dtype");
}

DType from_dl_dtype(const DLDataType& t) {
  if (t.lanes == 1) {
    if (t.code == kDLFloat && t.bits == 32) return DType::F32;
    if (t.code == kDLFloat && t.bits == 16) return DType::F16;
    if (t.code == kDLBfloat && t.bits == 16) return DType::BF16;
    if (t.code == kDLInt && t.bits == 32) return DType::I32;
    if (t.code == kDLUInt && t.bits == 32) return DType::U32;
    if (t.code == kDLInt && t.bits == 8) return DType::I8;
    if ((t.code == kDLUInt || t.code == kDLBool) && t.bits == 8) return DType::U8;
    if (t.code == kDLInt && t.bits == 64) return DType::I64;
  }
  throw DTypeError("DLPack dtype (code " + std::to_string(t.code) + ", " + std::to_string(t.bits) +
                   " bits, " + std::to_string(t.lanes) +
                   " lanes) has no metallic equivalent: convert to float32, float16, bfloat16, "
                   "int32, uint32, int8, uint8 or int64 first");
}

/// Copies the elements of a strided array into contiguous `dst` (row-major).
void gather(char* dst, const char* src, const int64_t* shape, const int64_t* strides, int ndim,
            size_t element_size) {
  if (ndim == 0) {
    std::memcpy(dst, src, element_size);
    return;
  }
  std::vector<int64_t> index(static_cast<size_t>(ndim), 0);
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) total *= shape[d];
  for (int64_t n = 0; n < total; ++n) {
    int64_t offset = 0;
    for (int d = 0; d < ndim; ++d) offset += index[static_cast<size_t>(d)] * strides[d];
    std::memcpy(dst + n * static_cast<int64_t>(element_size),
                src + offset * static_cast<int64_t>(element_size), element_size);
    for (int d = ndim - 1; d >= 0 && ++index[static_cast<size_t>(d)] == shape[d]; --d) {
      index[static_cast<size_t>(d)] = 0;
    }
  }
}

// ---- export -----------------------------------------------------------------------------------

/// What an exported capsule owns: the tensor (keeping its buffer alive) or a copy of its data.
struct Exported {
  Tensor tensor;
  std::vector<char> copy;
  int64_t shape[Shape::kMaxDims];
  int64_t strides[Shape::kMaxDims];
  DLManagedTensor legacy;
  DLManagedTensorVersioned versioned;
};

/// Frees an export. Consumers may call deleters without the GIL; the tensor's release touches
/// the context's pool, which the GIL guards.
void free_exported(Exported* e) {
  if (!Py_IsInitialized()) return;  // the interpreter is gone: leak rather than crash
  PyGILState_STATE gil = PyGILState_Ensure();
  delete e;
  PyGILState_Release(gil);
}

void delete_legacy(DLManagedTensor* self) {
  free_exported(static_cast<Exported*>(self->manager_ctx));
}
void delete_versioned(DLManagedTensorVersioned* self) {
  free_exported(static_cast<Exported*>(self->manager_ctx));
}

/// A capsule nobody consumed still owns its tensor.
void destroy_capsule(PyObject* capsule) {
  if (PyCapsule_IsValid(capsule, kVersionedName)) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(capsule, kVersionedName));
    if (m && m->deleter) m->deleter(m);
  } else if (PyCapsule_IsValid(capsule, kLegacyName)) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, kLegacyName));
    if (m && m->deleter) m->deleter(m);
  }
}

py::object dlpack_device(const Tensor&) {
  // Both devices' buffers are host memory (the Metal device allocates shared, unified memory),
  // so consumers see CPU memory: see docs/host-device.md.
  return py::make_tuple(kDLCPU, 0);
}

py::object export_dlpack(const Tensor& t, const py::object& stream, const py::object& max_version,
                         const py::object& dl_device, const py::object& copy) {
  if (!stream.is_none()) {
    throw py::buffer_error("metallic tensors are CPU-visible memory: __dlpack__ takes stream=None");
  }
  if (!dl_device.is_none()) {
    const auto dev = dl_device.cast<py::tuple>();
    if (dev.size() != 2 || dev[0].cast<int>() != kDLCPU) {
      throw py::buffer_error("metallic exports to the CPU device (1, 0) only, not " +
                             std::string(py::repr(dl_device)));
    }
  }
  bool versioned = false;
  if (!max_version.is_none()) {
    const auto v = max_version.cast<py::tuple>();
    versioned = v.size() >= 1 && v[0].cast<int>() >= 1;
  }
  const bool copied = !copy.is_none() && copy.cast<bool>();

  auto* e = new Exported();
  e->tensor = t;
  const void* data;
  {
    py::gil_scoped_release release;  // waits for pending work on the tensor
    data = t.data_for_read();
  }
  const size_t element = dtype_size(t.dtype());
  for (size_t d = 0; d < t.ndim(); ++d) {
    e->shape[d] = t.shape()[d];
    e->strides[d] = t.strides()[d];
  }
  DLTensor dl{};
  dl.data = const_cast<void*>(data);
  if (copied) {
    e->copy.resize(t.nbytes());
    gather(e->copy.data(), static_cast<const char*>(data), e->shape, e->strides,
           static_cast<int>(t.ndim()), element);
    const Shape contiguous = contiguous_strides(t.shape());
    for (size_t d = 0; d < t.ndim(); ++d) e->strides[d] = contiguous[d];
    dl.data = e->copy.data();
    e->tensor = Tensor();  // the copy is all the capsule needs
  }
  dl.device = {kDLCPU, 0};
  dl.ndim = static_cast<int32_t>(t.ndim());
  dl.dtype = dl_dtype(t.dtype());
  dl.shape = e->shape;
  dl.strides = e->strides;
  dl.byte_offset = 0;
  if (versioned) {
    e->versioned = {{1, 0}, e, &delete_versioned, copied ? kFlagIsCopied : 0, dl};
    return py::reinterpret_steal<py::object>(
        PyCapsule_New(&e->versioned, kVersionedName, &destroy_capsule));
  }
  e->legacy = {dl, e, &delete_legacy};
  return py::reinterpret_steal<py::object>(
      PyCapsule_New(&e->legacy, kLegacyName, &destroy_capsule));
}

// ---- import -----------------------------------------------------------------------------------

/// A new tensor on `ctx` holding a copy of a DLPack producer's data (an object with __dlpack__,
/// or a capsule); a tensor of `ctx` itself is returned as it is. The producer's memory stays its
/// own.
py::object import_dlpack(Context& ctx, const py::object& source) {
  if (py::isinstance<Tensor>(source) && &source.cast<const Tensor&>().context() == &ctx) {
    return source;
  }
  py::object capsule = source;
  if (py::hasattr(source, "__dlpack__")) {
    if (py::hasattr(source, "__dlpack_device__")) {
      const auto dev = source.attr("__dlpack_device__")().cast<py::tuple>();
      if (dev[0].cast<int>() != kDLCPU) {
        throw ArgumentError(
            "mt.from_dlpack copies from CPU memory; this object is on DLPack "
            "device " +
            std::string(py::repr(dev)) + " (move it to the CPU first, e.g. torch's .cpu())");
      }
    }
    try {
      capsule = source.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
    } catch (const py::error_already_set& e) {
      if (!e.matches(PyExc_TypeError)) throw;
      capsule = source.attr("__dlpack__")();  // a producer older than DLPack 1.0
    }
  }
  PyObject* cap = capsule.ptr();
  const DLTensor* dl = nullptr;
  DLManagedTensorVersioned* versioned = nullptr;
  DLManagedTensor* legacy = nullptr;
  if (PyCapsule_IsValid(cap, kVersionedName)) {
    versioned = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, kVersionedName));
    if (versioned->version.major > 1) {
      throw ArgumentError("DLPack version " + std::to_string(versioned->version.major) +
                          " is newer than metallic understands (1)");
    }
    dl = &versioned->dl_tensor;
  } else if (PyCapsule_IsValid(cap, kLegacyName)) {
    legacy = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, kLegacyName));
    dl = &legacy->dl_tensor;
  } else {
    throw ArgumentError(
        "mt.from_dlpack takes an object with __dlpack__ (a numpy array, a torch "
        "tensor, ...) or an unused DLPack capsule, got " +
        std::string(py::repr(source)));
  }
  // Consumed from here on: the producer's deleter runs once we have copied.
  PyCapsule_SetName(cap, versioned ? "used_dltensor_versioned" : "used_dltensor");
  struct Release {
    DLManagedTensorVersioned* versioned;
    DLManagedTensor* legacy;
    ~Release() {
      if (versioned && versioned->deleter) versioned->deleter(versioned);
      if (legacy && legacy->deleter) legacy->deleter(legacy);
    }
  } release_after{versioned, legacy};

  if (dl->device.device_type != kDLCPU) {
    throw ArgumentError("mt.from_dlpack copies from CPU memory (DLPack device 1), got device " +
                        std::to_string(dl->device.device_type));
  }
  const DType dtype = from_dl_dtype(dl->dtype);
  if (dl->ndim < 0 || static_cast<size_t>(dl->ndim) > Shape::kMaxDims) {
    throw ShapeError("tensors have at most " + std::to_string(Shape::kMaxDims) +
                     " dimensions, got " + std::to_string(dl->ndim));
  }
  const Shape shape(dl->shape, dl->shape + dl->ndim);
  const Shape strides =
      dl->strides ? Shape(dl->strides, dl->strides + dl->ndim) : contiguous_strides(shape);
  Tensor out = ctx.tensor(dtype, shape);
  if (out.numel() > 0) {
    const char* src = static_cast<const char*>(dl->data) + dl->byte_offset;
    gather(static_cast<char*>(out.data_for_write()), src, shape.begin(), strides.begin(), dl->ndim,
           dtype_size(dtype));
  }
  return py::cast(std::move(out));
}

}  // namespace

void bind_dlpack(py::module_& m) {
  auto tensor = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  tensor
      .def("__dlpack__", &export_dlpack, py::kw_only(), py::arg("stream") = py::none(),
           py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(),
           py::arg("copy") = py::none(),
           "A DLPack capsule sharing the tensor's memory (copy=True: a copy), after pending work "
           "on it completes.")
      .def("__dlpack_device__", &dlpack_device,
           "(1, 0): DLPack's CPU device (both devices' buffers are host-visible memory).");
  m.def("from_dlpack", &import_dlpack, py::arg("ctx"), py::arg("source"),
        "A new tensor on ctx holding a copy of a DLPack producer's data.");
}

}  // namespace metallic::python
