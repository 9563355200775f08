"""scipy from its musllinux wheel (Fortran, C++, OpenBLAS via scipy-openblas): results rounded,
as the venv's manylinux build uses glibc's libm and another OpenBLAS build."""
import numpy as np
from scipy import integrate, interpolate, linalg, optimize, signal, sparse, special, stats, fft
from scipy.sparse.linalg import spsolve
m = np.array([[4.0, 1.0, 0.5], [2.0, 3.0, 1.0], [0.0, 1.0, 5.0]])
print(np.round(linalg.lu_factor(m)[0], 8).tolist())
print(np.round(linalg.expm(m / 10), 8).tolist(), round(float(linalg.det(m)), 8))
print(np.round(linalg.svdvals(m), 8).tolist(), np.round(linalg.cho_factor(m @ m.T)[0], 6).tolist())
r = optimize.minimize(lambda x: (x[0] - 1) ** 2 + (x[1] + 2) ** 2 + x[0] * x[1] / 10, [0, 0], method="BFGS")
print(np.round(r.x, 5).tolist(), r.success)
print(round(optimize.brentq(lambda x: x ** 3 - 2 * x - 5, 2, 3), 10))
r = optimize.linprog([-1, -2], A_ub=[[1, 1], [1, -1]], b_ub=[4, 2], bounds=[(0, None)] * 2)
print(np.round(r.x, 6).tolist(), r.status)
print(round(integrate.quad(np.sin, 0, np.pi)[0], 10), np.round(integrate.solve_ivp(lambda t, y: -0.5 * y, [0, 2], [1.0]).y[0, -1], 5))
print(round(float(special.gamma(4.5)), 10), round(float(special.erf(0.3)), 10), round(float(special.jv(1, 2.5)), 10))
print(round(float(stats.norm.cdf(1.96)), 10), np.round(stats.t.ppf([0.9, 0.95], 10), 8).tolist())
rng = np.random.default_rng(0)
x = rng.normal(size=200)
print(np.round(stats.describe(x).mean, 8), round(float(stats.kstest(x, "norm").statistic), 8))
a = sparse.csr_matrix(np.array([[4.0, 1, 0], [1, 3, 1], [0, 1, 2]]))
print(np.round(spsolve(a.tocsc(), np.array([1.0, 2, 3])), 8).tolist(), a.nnz)
b, a2 = signal.butter(3, 0.2)
print(np.round(b, 8).tolist(), np.round(signal.lfilter(b, a2, np.ones(5)), 8).tolist())
print(np.round(interpolate.CubicSpline([0, 1, 2, 3], [0, 1, 0, 1])(1.5), 8), np.round(np.abs(fft.rfft(np.arange(8.0))), 6).tolist())
try:
    linalg.inv(np.zeros((2, 2)))
except linalg.LinAlgError as e:
    print("LinAlgError:", e)
