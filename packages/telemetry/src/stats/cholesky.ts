/**
 * xᵀ A⁻¹ x for a symmetric positive-definite matrix A (row-major, n×n), by Cholesky A = L Lᵀ and
 * one forward substitution: xᵀ A⁻¹ x = ‖L⁻¹x‖². Returns NaN if A is not positive definite.
 * n is the number of histogram cells (≤ ~50), so O(n³) is nothing.
 */
export function quadraticFormInverse(a: Float64Array, x: Float64Array): number {
  const n = x.length;
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) return Number.NaN;
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j]!;
      }
    }
  }
  let norm = 0;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = x[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
    norm += y[i]! * y[i]!;
  }
  return norm;
}
