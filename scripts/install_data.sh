#!/bin/sh
# Installs Fashion-MNIST from Debian's package `dataset-fashion-mnist` where apt-get is available.
# Without it tf-parity still runs: `--dataset auto` falls back to scikit-learn's digits.
set -u
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: no apt-get here, so no Fashion-MNIST; tf-parity will use scikit-learn's digits" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo="sudo -n"
fi
if $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null; then
    echo "installed Fashion-MNIST in /usr/share/datasets/fashion-mnist" >&2
else
    echo "note: could not install dataset-fashion-mnist; tf-parity will use scikit-learn's digits" >&2
fi
exit 0
