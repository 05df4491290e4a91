"""A Gaussian process over any points with a distance, on one valid kernel built from that distance.

The points may be architectures (under the edit distance of
`keras_nas.search.morphism.distance`) or sets of hyperparameter values (under
the distance of `keras_nas.search.morphism.oracle`): the GP needs only a
`Distance`. Such a distance is in general not Euclidean, so exp(-d^2) on raw
distances can give an indefinite matrix (legacy Auto-Keras fitted on one kernel
and predicted with another to dodge this). Here every point x is embedded by
its distance profile to the n observed ones,
phi(x) = (d(x, a_1), ..., d(x, a_n)) / sqrt(n), and the kernel is an RBF on
that embedding:

    k(x, y) = s^2 exp(-|phi(x) - phi(y)|^2 / (2 l^2))

It is positive semi-definite for any set of points, observed or proposed, and
the same function serves fitting and prediction. By the triangle inequality
|phi(x) - phi(y)| <= d(x, y): points close in the distance stay close.

Targets are standardised; the length-scale l, the signal variance s^2 and the
noise variance are fitted by maximising the marginal likelihood. The Cholesky
jitter escalates (x10) until the factorisation succeeds; no point is ever dropped.

`DistanceGP` is the GP; `ArchitectureGP` is it over architectures, with the edit distance by default.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize
from scipy.stats import norm
from threadpoolctl import ThreadpoolController

from keras_nas.architecture import Architecture
from keras_nas.search.morphism.distance import ArchitectureDistance

P = TypeVar("P")
P_contra = TypeVar("P_contra", contravariant=True)
GP = TypeVar("GP", bound="DistanceGP")
F = TypeVar("F", bound=Callable[..., Any])


class Distance(Protocol[P_contra]):
    """What `DistanceGP` needs of a distance between points (`ArchitectureDistance` is one)."""

    def batch(self, points: Sequence[P_contra], /) -> Any:
        """`points` prepared once for many `to_many` calls."""

    def to_many(self, point: P_contra, batch: Any, /) -> np.ndarray:
        """Distances from `point` to each point of a `batch`."""

    def matrix(self, points: Sequence[P_contra], /) -> np.ndarray:
        """The symmetric matrix of pairwise distances."""


@functools.lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread(function: F) -> F:
    """Runs `function` with BLAS on one thread.

    The GP's matrices are a few hundred wide at most, where BLAS threads only
    add synchronisation; next to TensorFlow's thread pools they thrash: a
    200 x 200 Cholesky took 257 ms with two OpenBLAS threads after importing
    TensorFlow, 0.18 ms with one.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _threadpools().limit(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return cast(F, wrapper)


def rbf(a: np.ndarray, b: np.ndarray, length_scale: float, variance: float) -> np.ndarray:
    squared = np.maximum((a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T, 0.0)
    return variance * np.exp(-0.5 * squared / length_scale**2)


def stable_cholesky(matrix: np.ndarray, jitter: float = 1e-10) -> tuple[np.ndarray, float]:
    """Lower Cholesky factor of `matrix + jitter * I`, raising the jitter tenfold until it succeeds."""
    scale = float(np.mean(np.diag(matrix))) or 1.0
    identity = np.eye(len(matrix))
    while True:
        try:
            return cholesky(matrix + jitter * scale * identity, lower=True), jitter
        except np.linalg.LinAlgError:
            if jitter >= 1.0:
                raise
            jitter *= 10.0


class DistanceGP(Generic[P]):
    """Gaussian-process regression of a score over points compared by a `Distance`.

    Args:
        distance: The distance between points (shared, so that its caches are reused).
    """

    _noun = "points"  # what the points are called in error messages

    def __init__(self, distance: Distance[P]) -> None:
        self.distance = distance

    # -- embedding ---------------------------------------------------------
    def _embed(self, distances: np.ndarray) -> np.ndarray:
        return distances / math.sqrt(distances.shape[1])

    def embed(self, points: Sequence[P]) -> np.ndarray:
        """The feature vectors phi(x) of points, relative to the fitted ones."""
        return self._embed(np.stack([self.distance.to_many(p, self.batch_) for p in points]))

    def kernel(self, a: Sequence[P], b: Sequence[P] | None = None) -> np.ndarray:
        """The fitted kernel matrix between two lists of points."""
        left = self.embed(a)
        right = left if b is None else self.embed(b)
        return rbf(left, right, self.length_scale_, self.signal_variance_)

    # -- fitting -----------------------------------------------------------
    @staticmethod
    def _negative_log_likelihood(log_params: np.ndarray, squared: np.ndarray, targets: np.ndarray):
        """Negative log marginal likelihood and its gradient in (log l, log s^2, log noise)."""
        length_scale, variance, noise = np.exp(log_params)
        shape = np.exp(-0.5 * squared / length_scale**2)
        matrix = variance * shape + noise * np.eye(len(targets))
        try:
            factor = cholesky(matrix, lower=True)
        except np.linalg.LinAlgError:
            return 1e25, np.zeros(3)
        alpha = cho_solve((factor, True), targets)
        value = 0.5 * targets @ alpha + np.log(np.diag(factor)).sum() + 0.5 * len(targets) * math.log(2 * math.pi)
        # d(-log p)/d theta = -1/2 tr((alpha alpha^T - K^-1) dK/d theta)
        inner = np.outer(alpha, alpha) - cho_solve((factor, True), np.eye(len(targets)))
        derivatives = (variance * shape * squared / length_scale**2, variance * shape)
        gradient = [-0.5 * float((inner * d).sum()) for d in derivatives] + [-0.5 * noise * float(np.trace(inner))]
        return float(value), np.array(gradient)

    def _fit_hyperparameters(self, squared: np.ndarray, targets: np.ndarray) -> tuple[float, float, float]:
        """(length-scale, signal variance, noise) maximising the marginal likelihood, from three starts."""
        spread = np.sqrt(squared)
        typical = float(np.median(spread[spread > 0])) if np.any(spread > 0) else 1.0
        if len(targets) < 3:  # too few points to fit anything: sensible fixed values
            return typical, 1.0, 1e-4
        bounds = [
            (math.log(typical / 20), math.log(typical * 20)),
            (math.log(0.05), math.log(20.0)),
            (math.log(1e-6), math.log(1.0)),
        ]
        best = None
        for start in (typical / 2, typical, typical * 2):
            result = minimize(
                self._negative_log_likelihood,
                np.log([start, 1.0, 1e-2]),
                args=(squared, targets),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
            )
            if best is None or result.fun < best.fun:
                best = result
        assert best is not None  # the loop above ran three times
        length_scale, variance, noise = (float(v) for v in np.exp(best.x))
        return length_scale, variance, noise

    @one_blas_thread
    def fit(self: GP, points: Sequence[P], scores: Sequence[float] | np.ndarray) -> GP:
        """Fits the GP on `points` and their scores; returns self."""
        points = list(points)
        values = np.asarray(scores, dtype=float)
        if len(points) != len(values) or not len(values):
            raise ValueError(
                f"fit needs as many scores as {self._noun} (at least one); received {len(points)} "
                f"{self._noun} and {len(values)} scores."
            )
        if not np.all(np.isfinite(values)):
            raise ValueError("fit needs finite scores.")
        self.points_ = points
        self.batch_ = self.distance.batch(points)
        self.mean_ = float(values.mean())
        self.scale_ = float(values.std()) if values.std() > 1e-12 else 1.0
        targets = (values - self.mean_) / self.scale_
        features = self._embed(self.distance.matrix(points))
        self.features_ = features
        squared = np.maximum(((features[:, None, :] - features[None, :, :]) ** 2).sum(-1), 0.0)
        self.length_scale_, self.signal_variance_, self.noise_ = self._fit_hyperparameters(squared, targets)
        matrix = rbf(features, features, self.length_scale_, self.signal_variance_)
        matrix += self.noise_ * np.eye(len(values))
        self.factor_, self.jitter_ = stable_cholesky(matrix)
        if self.jitter_ > 1e-6:
            warnings.warn(
                f"The GP needed a Cholesky jitter of {self.jitter_:g}; no observation was dropped.", stacklevel=2
            )
        self.alpha_ = cho_solve((self.factor_, True), targets)
        return self

    @one_blas_thread
    def predict(self, points: Sequence[P]) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the score, in the scores' units."""
        cross = rbf(self.embed(points), self.features_, self.length_scale_, self.signal_variance_)
        mean = cross @ self.alpha_
        solved = solve_triangular(self.factor_, cross.T, lower=True)
        variance = np.maximum(self.signal_variance_ - (solved**2).sum(axis=0), 1e-12)
        return self.mean_ + self.scale_ * mean, self.scale_ * np.sqrt(variance)


class ArchitectureGP(DistanceGP[Architecture]):
    """Gaussian-process regression of a score over architectures, under the edit distance.

    Args:
        distance: The `ArchitectureDistance` (shared, so its caches are reused); a fresh one by default.

    Example:

    >>> from keras_nas import Architecture, Layer
    >>> archs = [Architecture([Layer.of("dense", units=u)] * depth) for u in (16, 64) for depth in (1, 3)]
    >>> gp = ArchitectureGP().fit(archs, [0.1, 0.5, 0.2, 0.7])
    >>> mean, std = gp.predict(archs)
    >>> bool(np.all(np.abs(mean - [0.1, 0.5, 0.2, 0.7]) < 0.2))
    True
    """

    _noun = "architectures"

    def __init__(self, distance: ArchitectureDistance | None = None) -> None:
        super().__init__(distance or ArchitectureDistance())

    @property
    def architectures_(self) -> list[Architecture]:
        """The fitted architectures."""
        return self.points_


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, beta: float = 2.5, direction: str = "max") -> np.ndarray:
    """UCB in the objective's direction, as a quantity to maximise: mean + beta*std, or -(mean - beta*std)."""
    return mean + beta * std if direction == "max" else -(mean - beta * std)


def expected_improvement(mean: np.ndarray, std: np.ndarray, incumbent: float, direction: str = "max") -> np.ndarray:
    """The expected amount by which a point beats `incumbent` in the objective's direction (>= 0)."""
    gain = (mean - incumbent) if direction == "max" else (incumbent - mean)
    std = np.maximum(std, 1e-12)
    z = gain / std
    return np.maximum(gain * norm.cdf(z) + std * norm.pdf(z), 0.0)
