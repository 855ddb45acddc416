#!/usr/bin/env bash
# On a machine with a GPU and JAX but no TensorFlow (run from the repository's root, with the
# gpu_bundle/ that scripts/gpu_bundle.sh built here): installs the carried wheels, verifies each
# carried record on Keras' JAX backend on the GPU (`tf-parity verify`, TF32 off and deterministic
# ops), and times the JAX training steps of every model; the reports go to one folder. About 5
# minutes on one GPU; every step has its own time limit, 8 minutes in all.
#
#   scripts/gpu_check.sh                  # OUT=gpu_results DEVICE=gpu PYTHON=python3 STEP_MODELS=... STEPS=30
set -uo pipefail
cd "$(dirname "$0")/.."
BUNDLE=${BUNDLE:-gpu_bundle}
OUT=${OUT:-gpu_results}
DEVICE=${DEVICE:-gpu}
PYTHON=${PYTHON:-python3}
SITE=${SITE:-/tmp/tf-parity-site}
STEP_MODELS=${STEP_MODELS:-mnist_cnn,conv_autoencoder,vgg13,resnet18,mobilenet_v2}
STEPS=${STEPS:-30}
mkdir -p "$OUT"

if compgen -G "$BUNDLE/wheels/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        "$BUNDLE"/wheels/*.whl || exit 2
fi
export PYTHONPATH="$SITE:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1

status=0
for record in "$BUNDLE"/records/*/; do
    model=$(basename "$record")
    timeout 150 "$PYTHON" -m parity.cli verify --golden "$record" --device "$DEVICE" --data-dir "$BUNDLE/data" \
        --json "$OUT/verify_$model.json" 2>"$OUT/verify_$model.log" | tee "$OUT/verify_$model.txt"
    code=${PIPESTATUS[0]}
    echo "verify $model: exit $code"
    [ "$code" -eq 0 ] || status=1
done
timeout 150 "$PYTHON" scripts/jax_steps.py --device "$DEVICE" --models "$STEP_MODELS" --steps "$STEPS" \
    --out "$OUT/jax_steps.json" 2>"$OUT/jax_steps.log" || status=1
exit $status
