// The pieces of metallic._core, one file each.
#pragma once

#include <pybind11/pybind11.h>

namespace metallic::python {

void bind_tensor(pybind11::module_& m);
void bind_context(pybind11::module_& m);
void bind_ops(pybind11::module_& m);
void bind_backends(pybind11::module_& m);
/// After bind_context: mt.graph_kernels and the Context's graph-cache methods.
void bind_graph(pybind11::module_& m);
void bind_kernels(pybind11::module_& m);
/// After bind_context: the Profile class and Context.profile.
void bind_profile(pybind11::module_& m);
/// After bind_tensor: Tensor.__dlpack__, __dlpack_device__ and from_dlpack.
void bind_dlpack(pybind11::module_& m);

}  // namespace metallic::python
