"""`BilevelModel`: a Keras model whose `train_step` alternates architecture and weight updates.

DARTS's bi-level problem, min_α L_val(w*(α), α) with w*(α) = argmin_w
L_train(w, α), solved by alternating one step of each per batch pair:

1. α on a validation batch: Adam, lr 3e-4, betas (0.5, 0.999), L2 1e-3 added
   to the gradient (PyTorch's coupled `weight_decay`, not Keras's decoupled
   one). First order uses ∇α L_val(w, α); second order the unrolled gradient
   ∇α L_val(w', α) - ξ ∇²_{α,w} L_train(w, α) ∇_{w'} L_val(w', α), at the
   virtual step w' = w - ξ(∇w L_train + wd·w) + μ·m (the step SGD would take),
   with the Hessian-vector product as a central difference at
   w± = w ± ε ∇_{w'} L_val, ε = 0.01 / ‖∇_{w'} L_val‖.
2. weights on the training batch: SGD, momentum 0.9, cosine decay
   0.025 → 0.001, raw gradients clipped to global norm 5, then L2 3e-4 added
   (PyTorch's order: `clip_grad_norm_`, then the optimizer's weight decay).

At first order, both steps run one shared traced pass (loss and gradients for
every trainable variable, `_loss_and_gradients`), so a supernet's step is
traced once, not twice; after the α step, the state that pass moved
(BatchNormalization statistics, a sampler's seed) is put back, so it only
moves on training batches. The second-order evaluations are `stateless_call`s
at substituted tensors: no model copy, no assign/restore. TensorFlow backend
only (`tf.GradientTape`).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nas.backend.tracing import build_compiled_state


def default_weight_optimizer(
    decay_steps: int, learning_rate: float = 0.025, min_learning_rate: float = 0.001, momentum: float = 0.9
) -> keras.optimizers.Optimizer:
    """DARTS's weight optimizer: SGD with momentum, cosine decay from `learning_rate` to `min_learning_rate`.

    No `weight_decay` and no clipping here: `BilevelModel` clips the raw
    gradients and adds the coupled L2 term itself.
    """
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, max(int(decay_steps), 1), alpha=min_learning_rate / learning_rate
    )
    return keras.optimizers.SGD(schedule, momentum=momentum)


def default_arch_optimizer(learning_rate: float = 3e-4) -> keras.optimizers.Optimizer:
    """DARTS's architecture optimizer: Adam with betas (0.5, 0.999)."""
    return keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.999)


def _filled(grads, variables):
    # A variable the loss does not reach (e.g. the α of a cell type the network lacks)
    # gets a zero gradient instead of Keras's per-step "Gradients do not exist" warning.
    return [ops.zeros_like(v) if g is None else g for g, v in zip(grads, variables, strict=True)]


def _global_norm(tensors):
    return ops.sqrt(sum(ops.sum(ops.square(ops.cast(t, "float32"))) for t in tensors))


def _axpy(scale, xs, ys):
    """[y + scale·x], with `scale` cast to each tensor's dtype."""
    return [y + ops.cast(scale, y.dtype) * x for x, y in zip(xs, ys, strict=True)]


class BilevelModel(keras.Model):
    """Base of supernets trained by alternating architecture and weight steps.

    Subclasses create their architecture parameters with `add_arch_weight`
    (in `__init__`, before building); every other trainable variable is a
    network weight. The model must be built before `compile`. `fit` takes
    batches `((x_train, y_train), (x_val, y_val))`, as `bilevel_dataset`
    makes them, and appends the raw α values to `alpha_history` after every
    epoch (a list of `{variable name: array}`).
    """

    # DARTS's r: the Hessian-vector product perturbs the weights by ε = r / ‖∇_{w'} L_val‖.
    hessian_radius = 0.01

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._arch_weights = []
        self.alpha_history = []
        self.arch_loss_tracker = keras.metrics.Mean(name="arch_loss")

    def add_arch_weight(self, name: str, shape: Sequence[int], initializer="zeros"):
        """Creates a float32 architecture parameter, kept out of the weight optimizer."""
        variable = self.add_weight(shape=tuple(shape), initializer=initializer, dtype="float32", name=name)
        self._arch_weights.append(variable)
        return variable

    @property
    def arch_variables(self) -> list:
        """The architecture parameters, updated only by the architecture optimizer."""
        return list(self._arch_weights)

    @property
    def weight_variables(self) -> list:
        """Every other trainable variable, updated only by the weight optimizer."""
        arch = {id(v) for v in self._arch_weights}
        return [v for v in self.trainable_variables if id(v) not in arch]

    def compile(
        self,
        optimizer: keras.optimizers.Optimizer | None = None,
        arch_optimizer: keras.optimizers.Optimizer | None = None,
        order: int = 1,
        weight_decay: float = 3e-4,
        arch_weight_decay: float = 1e-3,
        grad_clip: float | None = 5.0,
        decay_steps: int = 1000,
        **kwargs,
    ):
        """Sets both optimizers and builds them, so `fit` never creates optimizer state.

        Args:
            optimizer: the weight optimizer; default `default_weight_optimizer(decay_steps)`
                (set `decay_steps` to epochs × steps per epoch).
            arch_optimizer: the α optimizer; default `default_arch_optimizer()`.
            order: 1 (α gradient at the current weights) or 2 (unrolled, finite differences).
            weight_decay, arch_weight_decay: coupled L2 factors added to the gradients.
            grad_clip: global norm the raw weight gradients are clipped to (None: no clipping).
            **kwargs: passed to `keras.Model.compile` (defaults: sparse
                categorical cross-entropy, accuracy, no XLA).
        """
        if order not in (1, 2):
            raise ValueError(f"`order` must be 1 (first order) or 2 (second order); received order={order!r}.")
        if not self.built:
            raise ValueError(f"Build the {type(self).__name__} before compiling it: its variables must exist.")
        kwargs.setdefault("loss", "sparse_categorical_crossentropy")
        kwargs.setdefault("metrics", ["accuracy"])
        # XLA is opt-in: tracing a supernet step is already slow, and compiling it has not been measured to pay.
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer or default_weight_optimizer(decay_steps), **kwargs)
        self.arch_optimizer = keras.optimizers.get(arch_optimizer) if arch_optimizer else default_arch_optimizer()
        self.order, self.grad_clip = int(order), grad_clip
        self.weight_decay, self.arch_weight_decay = float(weight_decay), float(arch_weight_decay)
        self._metrics_ready = False  # new compiled metrics: see `_build_metrics`
        # Built here: an optimizer built inside the traced train step would create variables in a tf.function.
        for opt, variables in ((self.optimizer, self.weight_variables), (self.arch_optimizer, self.arch_variables)):
            if not opt.built:
                opt.build(variables)

    def fit(self, x=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit` on a dataset of batch pairs, recording α after every epoch in `alpha_history`."""
        if isinstance(x, (np.ndarray, list, tuple)):
            raise TypeError(
                f"{type(self).__name__}.fit needs batch pairs ((x_train, y_train), (x_val, y_val)); received "
                f"{type(x).__name__} data. Make them with keras_nas.oneshot.bilevel_dataset(train, val)."
            )
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # batch pairs come shuffled from `bilevel_dataset`
            self._build_metrics(x)
        # The recorder runs first, so callbacks that change α at an epoch's end (CollapseGuard) leave its record alone.
        return super().fit(x, *args, callbacks=[_AlphaRecorder(), *(callbacks or [])], **kwargs)

    def _build_metrics(self, dataset: tf.data.Dataset) -> None:
        # Compiled losses and metrics create their variables on first use. Left to the traced
        # train step, that makes TensorFlow trace the whole bi-level step twice.
        if getattr(self, "_metrics_ready", False):
            return
        (x, y), _ = next(iter(dataset.take(1)))
        build_compiled_state(self, x, y, self._example_prediction(x))
        self._metrics_ready = True

    def _example_prediction(self, x):
        """Predictions shaped as the model's for `x` (values do not matter): they build the compiled metrics.

        Subclasses that know their output shape return zeros and skip an eager pass through the supernet.
        """
        return self(x, training=False)

    def train_step(self, data):
        (x_train, y_train), (x_val, y_val) = data
        arch_loss = self.arch_step((x_train, y_train), (x_val, y_val))
        loss, y_pred = self.weight_step(x_train, y_train)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            elif metric.name == "arch_loss":
                metric.update_state(arch_loss)
        return self.compute_metrics(x_train, y_train, y_pred)

    # -- the two steps ------------------------------------------------------
    def arch_step(self, train_batch, val_batch):
        """One α update from the validation batch (the training batch enters only at order 2).

        Returns the validation loss.
        """
        grads, val_loss = self.arch_gradients(train_batch, val_batch)
        alphas = self.arch_variables
        self.arch_optimizer.apply(_axpy(self.arch_weight_decay, alphas, grads), alphas)
        return val_loss

    def weight_step(self, x, y):
        """One weight update on a training batch, α fixed. Returns the loss and the predictions."""
        weights = self.weight_variables
        loss, grads, y_pred = self._loss_and_gradients(x, y)
        grads = self._select(grads, weights)
        if self.grad_clip:
            grads, _ = tf.clip_by_global_norm(grads, self.grad_clip)
        self.optimizer.apply(_axpy(self.weight_decay, weights, grads), weights)
        return loss, y_pred

    def arch_gradients(self, train_batch, val_batch):
        """∇α of the validation loss (without the L2 term), at order `self.order`, and that loss."""
        if self.order == 1:
            # The weight step's pass, on the validation batch; then the state it moved (BatchNormalization
            # statistics, a sampler's seed) is put back: only training batches move it.
            state = [tf.identity(v.value) for v in self.non_trainable_variables]
            loss, grads, _ = self._loss_and_gradients(*val_batch)
            for variable, value in zip(self.non_trainable_variables, state, strict=True):
                variable.assign(value)
            return self._select(grads, self.arch_variables), loss
        alphas = [tf.convert_to_tensor(a) for a in self.arch_variables]
        weights = [tf.convert_to_tensor(w) for w in self.weight_variables]
        return self._unrolled_alpha_gradients(weights, alphas, train_batch, val_batch)

    # -- helpers ------------------------------------------------------------
    def _loss_and_gradients(self, x, y):
        """The training-mode loss on (x, y), its gradient for every trainable variable, and the predictions.

        A `tf.function` of its own, so that a first-order train step, which
        runs it for the α step and again for the weight step, traces the
        supernet's forward and backward pass once instead of twice; the half
        of the gradients each step does not use costs less than a second trace.
        """
        if getattr(self, "_shared_pass", None) is None:
            self._shared_pass = tf.function(self._loss_and_gradients_now, reduce_retracing=True)
        return self._shared_pass(x, y)

    def _loss_and_gradients_now(self, x, y):
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
        return loss, _filled(tape.gradient(loss, variables), variables), y_pred

    def _trainable_values(self, weights: Sequence, alphas: Sequence) -> list:
        """Values for `trainable_variables`, in their order, from weight and α values."""
        values = {id(v): t for v, t in zip(self.weight_variables, weights, strict=True)}
        values.update({id(v): t for v, t in zip(self._arch_weights, alphas, strict=True)})
        return [values[id(v)] for v in self.trainable_variables]

    def _select(self, grads: Sequence, variables: Sequence) -> list:
        """The entries of `grads` (one per trainable variable) that belong to `variables`."""
        position = {id(v): i for i, v in enumerate(self.trainable_variables)}
        return [grads[position[id(v)]] for v in variables]

    def loss_at(self, weights: Sequence, alphas: Sequence, x, y):
        """The training-mode loss with weights and α replaced by tensors, changing no state."""
        non_trainable = [v.value for v in self.non_trainable_variables]
        y_pred, _ = self.stateless_call(self._trainable_values(weights, alphas), non_trainable, x, training=True)
        return self.compute_loss(x=x, y=y, y_pred=y_pred, training=True)

    def _alpha_gradients(self, weights, alphas, x, y):
        with tf.GradientTape() as tape:
            tape.watch(alphas)
            loss = self.loss_at(weights, alphas, x, y)
        return _filled(tape.gradient(loss, alphas), alphas), loss

    def _unrolled_alpha_gradients(self, weights, alphas, train_batch, val_batch):
        xi = self.optimizer.learning_rate  # DARTS: ξ is the current weight learning rate
        with tf.GradientTape() as tape:
            tape.watch(weights)
            train_loss = self.loss_at(weights, alphas, *train_batch)
        grads = _axpy(self.weight_decay, weights, _filled(tape.gradient(train_loss, weights), weights))
        virtual = _axpy(-tf.convert_to_tensor(xi), grads, weights)
        momentum = self._momentum_buffers()
        if momentum is not None:
            mu, buffers = momentum
            virtual = _axpy(mu, [tf.convert_to_tensor(m) for m in buffers], virtual)

        with tf.GradientTape() as tape:
            tape.watch(virtual)
            tape.watch(alphas)
            val_loss = self.loss_at(virtual, alphas, *val_batch)
        grads = _filled(tape.gradient(val_loss, [*alphas, *virtual]), [*alphas, *virtual])
        direct, vector = grads[: len(alphas)], grads[len(alphas) :]

        # ∇²_{α,w} L_train · v ≈ [∇α L_train(w + εv) − ∇α L_train(w − εv)] / 2ε
        eps = self.hessian_radius / (_global_norm(vector) + 1e-12)
        plus, _ = self._alpha_gradients(_axpy(eps, vector, weights), alphas, *train_batch)
        minus, _ = self._alpha_gradients(_axpy(-eps, vector, weights), alphas, *train_batch)
        scale = -ops.cast(xi, "float32") / (2.0 * eps)
        return _axpy(scale, [p - m for p, m in zip(plus, minus, strict=True)], direct), val_loss

    def _momentum_buffers(self):
        """(μ, buffers) of a momentum SGD built on `weight_variables`, else None.

        Keras's SGD keeps m ← μm − lr·g and w ← w + m, so its next step is
        μm − lr·g: the virtual step adds μm to −ξg.
        """
        mu = float(getattr(self.optimizer, "momentum", 0.0) or 0.0)
        buffers = getattr(self.optimizer, "momentums", None)
        if not mu or not buffers or len(buffers) != len(self.weight_variables):
            return None
        return mu, buffers


class _AlphaRecorder(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.alpha_history.append({v.name: keras.ops.convert_to_numpy(v) for v in self.model.arch_variables})
