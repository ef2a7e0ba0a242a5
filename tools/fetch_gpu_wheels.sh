#!/usr/bin/env bash
# Download into .whl/ (git-ignored) the wheels that the GPU machine's Python 3.12 lacks for tools/gpu_check.sh.
#
# The GPU image has torch, torchvision, numpy, pillow, scipy, opencv-python-headless, tensorboard, safetensors,
# torchmetrics, pyyaml, tqdm and pytest (see the device notes); albumentations, kornia and their own dependencies are
# missing. Versions are pinned to the set that the test suite runs with here; one version of each (two versions of a
# package in .whl/ make the offline install fail). gpu_check.sh installs them with
#   pip install --no-index --no-deps --target /tmp/site .whl/*.whl
#
#   bash tools/fetch_gpu_wheels.sh            # -> .whl/*.whl (16 MiB)
#   WHEEL_DIR=/tmp/w bash tools/fetch_gpu_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${WHEEL_DIR:-.whl}"
PYTHON="${PYTHON:-python3}"

# name==version; the comment says who needs it.
WHEELS=(
  albumentations==2.0.8     # i2i.data.transforms
  albucore==0.0.24          # albumentations
  stringzilla==5.3.2        # albucore
  simsimd==6.5.16           # albucore
  pydantic==2.14.4          # albumentations
  pydantic-core==2.50.5     # pydantic
  annotated-types==0.8.0    # pydantic
  typing-inspection==0.4.5  # pydantic
  typing-extensions==4.16.0 # pydantic (newer than the image's may be)
  kornia==0.9.0             # i2i.data.gpu_augment
  kornia-rs==0.2.0          # kornia
  pyyaml==6.0.4             # i2i.config (in the image too; carried so the version is known)
  tqdm==4.70.1              # progress bars (in the image too)
)

PLATFORMS=()
for tag in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64 manylinux_2_27_x86_64 \
           manylinux_2_28_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux_2_35_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$tag")
done

mkdir -p "$DEST"
for spec in "${WHEELS[@]}"; do
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --abi cp312 --abi abi3 --abi none "${PLATFORMS[@]}" --platform any -d "$DEST" "$spec" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
done
# Each name once: two versions of one package make the offline install fail.
dups=$(ls "$DEST"/*.whl | xargs -n1 basename | cut -d- -f1 | tr 'A-Z-' 'a-z_' | sort | uniq -d)
if [ -n "$dups" ]; then echo "fetch_gpu_wheels.sh: several versions of: $dups; delete the old ones" >&2; exit 1; fi
ls -l "$DEST"
du -sh "$DEST"
