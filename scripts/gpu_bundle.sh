#!/usr/bin/env bash
# Builds gpu_bundle/, what scripts/gpu_check.sh needs on a GPU machine that has JAX but neither
# TensorFlow nor Keras nor a network: the wheels Keras needs beyond that machine's image (keras,
# namex, optree, for its Python), Fashion-MNIST, and compact golden records of the models made
# here by `tf-parity record`. One call to that machine carries the working tree and the bundle,
# 64 MiB in all: the script says what it holds and refuses to leave a bundle that does not fit.
#
#   scripts/gpu_bundle.sh                 # MODELS="mnist_cnn conv_autoencoder" PYTHON_VERSION=3.12
#   RECORD_FLAGS="--accuracy-steps 20"    # more flags for each `tf-parity record`
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${BUNDLE:-gpu_bundle}
MODELS=${MODELS:-"mnist_cnn conv_autoencoder"}
PYTHON_VERSION=${PYTHON_VERSION:-3.12}
LIMIT=$((64 * 1024 * 1024))
DATA=${DATA:-/usr/share/datasets/fashion-mnist}

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/wheels" "$BUNDLE/records" "$BUNDLE/data/fashion-mnist"
keras=$(grep '^keras==' constraints.txt)
.venv/bin/pip download --quiet --no-deps -d "$BUNDLE/wheels" "$keras" namex
.venv/bin/pip download --quiet --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$BUNDLE/wheels" optree
cp "$DATA"/*-ubyte.gz "$BUNDLE/data/fashion-mnist/"
for model in $MODELS; do
    .venv/bin/tf-parity record --model "$model" --compact --dataset fashion_mnist --device cpu \
        --out "$BUNDLE/records/$model" ${RECORD_FLAGS:-}
done

tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
bundle=$(du -sb "$BUNDLE" | cut -f1)
for part in "$BUNDLE"/wheels "$BUNDLE"/data "$BUNDLE"/records/*; do
    printf '%8.1f MB  %s\n' "$(du -sb "$part" | cut -f1 | awk '{print $1 / 1e6}')" "$part"
done
printf '%8.1f MB  the working tree\n%8.1f MB  in all, of %.1f MB (64 MiB)\n' \
    "$(awk "BEGIN {print $tree / 1e6}")" "$(awk "BEGIN {print ($tree + $bundle) / 1e6}")" "$(awk "BEGIN {print $LIMIT / 1e6}")"
if [ $((tree + bundle)) -gt $LIMIT ]; then
    echo "gpu_bundle.sh: the bundle does not fit in one call; record fewer models (MODELS=...)" >&2
    rm -rf "$BUNDLE"
    exit 1
fi
