"""One-off measurement behind the input-sized morphism seed (issue 16): seconds per epoch and validation accuracy of
candidate seeds on mnist5k seed 0, 8 epochs, batch 32, 2 CPU cores. Run: PYTHONPATH=. python benchmarks/results/anytime_slice/seed_cost.py
Output of the run quoted in the issue-16 note (2026-12-03):
  A 64-64-64         flops  9.82M params   80074  8.11s/epoch best val 0.9663
  C 32-64-64         flops  5.85M params   61194  4.62s/epoch best val 0.9750  (the new seed for 28x28)
  E 32-64-128        flops  7.68M params  102474  4.99s/epoch best val 0.9712
  D s2 32-64-64      flops  5.59M params   61194  3.89s/epoch best val 0.9638
  F flatten 32-64    flops  4.43M params  422026  4.05s/epoch best val 0.9700  (the fixed_keras baseline)
"""
import time, numpy as np, keras
from benchmarks.splits import load_split
from benchmarks.contenders.common import standardize
from keras_nas.architecture import Architecture, Layer, Head
split = load_split("mnist5k", 0)
xtr, xva, xte = standardize(split)
head = Head("classification", 10)
def block(f, s=1): return [Layer.of("conv", filters=f, strides=s), Layer.of("batch_norm"), Layer.of("activation", activation="relu"), Layer.of("pool")]
tail = [Layer.of("global_pool"), Layer.of("dropout", rate=0.25), Layer.of("dense", units=64, activation="relu")]
seeds = {
 "A 64-64-64": Architecture(block(64)*3 + tail),
 "C 32-64-64": Architecture(block(32)+block(64)+block(64) + tail),
 "E 32-64-128": Architecture(block(32)+block(64)+block(128) + tail),
 "D s2 32-64-64": Architecture([Layer.of("conv", filters=32, strides=2), Layer.of("batch_norm"), Layer.of("activation", activation="relu")]+block(64)+block(64) + tail),
 "F flatten 32-64": Architecture(block(32)+block(64) + [Layer.of("flatten"), Layer.of("dense", units=128, activation="relu")]),
}
for name, arch in seeds.items():
    keras.utils.set_random_seed(0)
    m = arch.build((28,28,1), head)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t=time.perf_counter(); h=m.fit(xtr, split.y_train, validation_data=(xva, split.y_val), epochs=8, verbose=0, batch_size=32); w=time.perf_counter()-t
    print(f"{name:18} flops {arch.flops((28,28,1), head)/1e6:5.2f}M params {m.count_params():7d} {w/8:5.2f}s/epoch best val {max(h.history['val_accuracy']):.4f} last {h.history['val_accuracy'][-1]:.4f}", flush=True)
