"""Train minigan's MNIST classifier (the feature extractor of FID, IS and the mode count).

    python examples/train_classifier.py --seed 0                   # the committed weights
    python examples/train_classifier.py --epochs 1 --limit 5000 --out /tmp/clf.npz   # a quick try

Trains on train[0:50000] only: train[50000:60000] is held out (it chooses the Parzen bandwidth
and gives the real-data ceiling in examples/evaluate.py) and is used here to report accuracy
after every epoch. The 10,000 test images are used once, at the end, for the test accuracy.
Writes --out with minigan.save (the classifier's float32 state dict, the settings and the
accuracies) and prints its sha256, to be recorded in minigan/classifier.py.
"""

import argparse
import os
import time

import numpy as np

import minigan
import minigan.functional as F
from minigan import backend, optim
from minigan.classifier import WEIGHTS, MNISTClassifier, sha256_of
from minigan.data import mnist

# --- settings ---------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate, first epoch")
parser.add_argument("--lr-decay", type=float, default=0.7, help="lr factor after every epoch")
parser.add_argument("--dropout", type=float, default=0.25, help="before the last layer")
parser.add_argument("--seed", type=int, default=0, help="weights, dropout and data order")
parser.add_argument("--limit", type=int, default=None,
                    help="train on the first LIMIT images only (quick tries, not the protocol)")
parser.add_argument("--out", default=str(WEIGHTS), help="the .npz file to write")
parser.add_argument("--data-dir", default=None, help="directory with the MNIST *-ubyte(.gz) files")
parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
parser.add_argument("--log-every", type=int, default=50, help="steps between progress lines")
args = parser.parse_args()
device = backend.check_device(args.device)

# --- data -------------------------------------------------------------------------------------
train_images, train_labels = mnist.load_mnist("train", data_dir=args.data_dir)  # (60000, 28, 28)
test_images, test_labels = mnist.load_mnist("test", data_dir=args.data_dir)     # (10000, 28, 28)
n_train = 50000 if args.limit is None else min(args.limit, 50000)
x_train = mnist.scale(train_images[:n_train], (0.0, 1.0), device=device)  # (n, 1, 28, 28)
y_train = backend.to_device(train_labels[:n_train].astype(np.int64), device)  # (n,)
held_out = (train_images[50000:60000], train_labels[50000:60000])  # never trained on
batches = mnist.Batches(x_train, y_train, batch_size=args.batch_size, seed=args.seed)

# --- model and optimiser ----------------------------------------------------------------------
model = MNISTClassifier(dropout=args.dropout, seed=args.seed, device=device)
opt = optim.Adam(model.parameters(), lr=args.lr)
n_params = sum(p.data.size for p in model.parameters())
print(f"{n_params:,} parameters; training on {n_train:,} images, {len(batches)} steps per epoch")


def accuracy(images, labels):
    return float((model.predict(images) == labels).mean())


# --- training loop ----------------------------------------------------------------------------
history = []
start = time.perf_counter()
step = 0
for epoch in range(args.epochs):
    opt.lr = args.lr * args.lr_decay ** epoch
    model.train()
    seen_loss, seen_right, seen = 0.0, 0, 0
    for xb, yb in batches:
        logits = model(minigan.Tensor(xb))                     # (B, 10)
        loss = F.cross_entropy(logits, yb)                     # mean over the batch
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        seen_loss += float(loss.item()) * len(yb)
        seen_right += int((logits.data.argmax(axis=1) == yb).sum())
        seen += len(yb)
        if step % args.log_every == 0:
            print(f"epoch {epoch + 1} step {step:5d}  loss {seen_loss / seen:.4f}  "
                  f"train acc {seen_right / seen:.4f}  lr {opt.lr:.2e}  "
                  f"{time.perf_counter() - start:6.0f} s", flush=True)
    held_acc = accuracy(*held_out)
    history.append({"epoch": epoch + 1, "loss": seen_loss / seen, "train_acc": seen_right / seen,
                    "held_out_acc": held_acc})
    print(f"== epoch {epoch + 1}: loss {seen_loss / seen:.4f}, accuracy on the held-out "
          f"train[50000:60000] {held_acc:.4f}, {time.perf_counter() - start:.0f} s", flush=True)

# --- test accuracy and saving -----------------------------------------------------------------
train_seconds = time.perf_counter() - start
test_acc = accuracy(test_images, test_labels)                  # all 10,000 test images
print(f"test accuracy {test_acc:.4f} ({int(round((1 - test_acc) * len(test_labels)))} errors "
      f"of {len(test_labels)}), training took {train_seconds:.0f} s")

model.cpu()
config = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
          "lr_decay": args.lr_decay, "dropout": args.dropout, "seed": args.seed,
          "train_images": n_train, "optimizer": "adam", "loss": "softmax cross-entropy",
          "input_range": [0.0, 1.0]}
os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
# no timings in the file: the same command writes the same bytes (checked by its sha256)
minigan.save(args.out, classifier=model, config=config, test_accuracy=test_acc, history=history)
print(f"wrote {args.out} ({os.path.getsize(args.out):,} bytes), sha256 {sha256_of(args.out)}")
