#include "metallic/kernel_variants.hpp"

#include <cstring>

#include "metallic/error.hpp"

namespace metallic {

namespace {
int find_kernel(const std::string& name) {
  for (size_t i = 0; i < kKernelFunctionCount; ++i) {
    if (name == kernel_function_info(static_cast<KernelFunction>(i)).name) return int(i);
  }
  return -1;
}
}  // namespace

KernelVariants::KernelVariants(std::string base, std::initializer_list<const char*> forms)
    : base_(std::move(base)), forms_(forms.begin(), forms.end()) {
  table_.assign(forms_.size() * kDTypeCount, -1);
  for (size_t f = 0; f < forms_.size(); ++f) {
    const std::string prefix = forms_[f].empty() ? base_ + "_" : base_ + "_" + forms_[f] + "_";
    for (size_t d = 0; d < kDTypeCount; ++d) {
      table_[f * kDTypeCount + d] = find_kernel(prefix + dtype_name(static_cast<DType>(d)));
    }
  }
}

size_t KernelVariants::form_index(const char* form) const {
  for (size_t f = 0; f < forms_.size(); ++f) {
    if (forms_[f] == form) return f;
  }
  throw MetallicError(base_ + ": no kernel form '" + form + "' was declared");
}

bool KernelVariants::has(const char* form, DType dtype) const {
  return table_[form_index(form) * kDTypeCount + size_t(dtype)] >= 0;
}

KernelFunction KernelVariants::get(const char* form, DType dtype) const {
  const size_t f = form_index(form);
  const int fn = table_[f * kDTypeCount + size_t(dtype)];
  if (fn >= 0) return static_cast<KernelFunction>(fn);
  std::string have;
  for (size_t d = 0; d < kDTypeCount; ++d) {
    if (table_[f * kDTypeCount + d] >= 0) {
      have += (have.empty() ? "" : ", ") + std::string(dtype_name(static_cast<DType>(d)));
    }
  }
  throw DTypeError(base_ + ": no kernel for dtype " + dtype_name(dtype) +
                   " (supported: " + (have.empty() ? "none" : have) + ")");
}

}  // namespace metallic
