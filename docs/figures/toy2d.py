"""Frames and an animation of examples/toy2d.py on the ring of 8 Gaussians, for docs/toy2d.md.

    python docs/figures/toy2d.py      # about a minute: trains the GAN twice

Writes, next to this file:

    toy2d_ring.gif             the default run (non-saturating loss), 16 frames
    toy2d_ring_early.png       a frame early in that run: G spreads along the ring
    toy2d_ring_final.png       its last frame
    toy2d_ring_saturating.png  the last frame of the same run with --saturating
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent.parent / "examples" / "toy2d.py"


def run(out, *flags):
    subprocess.run([sys.executable, str(EXAMPLE), "--out", str(out), "--frames", "16", *flags],
                   check=True)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run(tmp / "ns")
        shutil.copy(tmp / "ns" / "toy2d.gif", HERE / "toy2d_ring.gif")
        shutil.copy(tmp / "ns" / "frame_0004.png", HERE / "toy2d_ring_early.png")   # step 800
        shutil.copy(tmp / "ns" / "frame_0015.png", HERE / "toy2d_ring_final.png")   # step 3000
        run(tmp / "sat", "--saturating")
        shutil.copy(tmp / "sat" / "frame_0015.png", HERE / "toy2d_ring_saturating.png")
    return HERE / "toy2d_ring.gif"


if __name__ == "__main__":
    print(main())
