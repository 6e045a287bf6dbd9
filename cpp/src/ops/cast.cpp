// Host side of astype: the copy kernels convert while they copy.
#include "metallic/ops/cast.hpp"

#include <string>

#include "metallic/error.hpp"
#include "strided_copy.hpp"

namespace metallic {

std::pair<AstypeOp::Operation, Tensor> AstypeOp::create(Context& ctx, const Args& args) {
  if (!args.x.defined()) throw ArgumentError("astype: x is an undefined tensor");
  check_copy_dtype(name, "x", args.x.dtype());
  check_copy_dtype(name, "the target dtype", args.dtype);
  Tensor out = ctx.tensor(args.dtype, args.x.shape());
  Operation op;
  op.add(StridedCopy::plan(name, args.x, out));
  return {std::move(op), std::move(out)};
}

METALLIC_REGISTER_OP(AstypeOp, "astype",
                     "x converted to dtype (a new contiguous tensor), as numpy's astype with "
                     "casting='unsafe'; float to integer truncates, NaN becomes 0 and "
                     "out-of-range values saturate.",
                     METALLIC_ARG(x, "tensor or view to convert"),
                     METALLIC_REQUIRED(dtype, "target dtype: f32, f16, bf16, i32, u32, i8, u8"));

}  // namespace metallic
