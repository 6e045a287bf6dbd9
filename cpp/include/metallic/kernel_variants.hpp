// A kernel family's variants, chosen by a declared key instead of hand-written tables: kernels
// are named "<base>_<form>_<dtype>" (as MLX composes "vv_Addfloat32"), e.g. elemwise_add_vv_f16,
// and the names the build found in metal/ say which (form, dtype) pairs exist.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "metallic/dtype.hpp"
#include "metallic/kernel_registry.hpp"

namespace metallic {

class KernelVariants {
 public:
  /// Looks up "<base>_<form>_<dtype>" for every form and dtype ("<base>_<dtype>" for the form "").
  KernelVariants(std::string base, std::initializer_list<const char*> forms);

  /// The kernel for (form, dtype); throws DTypeError naming the dtypes that exist for `form`.
  KernelFunction get(const char* form, DType dtype) const;
  /// Whether a kernel exists for (form, dtype).
  bool has(const char* form, DType dtype) const;

 private:
  size_t form_index(const char* form) const;

  std::string base_;
  std::vector<std::string> forms_;
  std::vector<int> table_;  // [form][dtype] -> KernelFunction, or -1 where none exists
};

}  // namespace metallic
