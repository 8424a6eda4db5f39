#!/bin/sh
# Regenerates the golden files in test/data/ and the fuzz seed corpora.
# Run from the source tree after `make`: sh test/data/make_golden.sh
set -e
python3 test/data/make_golden.py
T=build/bin/tasd
$T decompose test/data/tiny_f32.npy --config 2:4 -o test/data/tiny_f32_2x4.tasd --quiet >/dev/null
$T decompose test/data/tiny.safetensors --config 2:4+1:8 -o test/data/tiny_2x4_1x8.tasd --quiet >/dev/null
C=test/fuzz/corpus
mkdir -p $C/config $C/npy $C/safetensors $C/tasd
for s in "2:4" "2:4+1:8" " 1:8 + 1:8 + 1:16 " "32:32" "1:2+1:2+1:2+1:2+1:2+1:2+1:2+1:2" "3:5" "2:4+" ""; do
    printf '%s' "$s" > "$C/config/$(printf '%s' "$s" | cksum | cut -d' ' -f1)"
done
cp test/data/tiny_f32.npy test/data/tiny_f16_v2.npy test/data/tiny_conv_v3.npy $C/npy/
cp test/data/tiny.safetensors $C/safetensors/
cp test/data/tiny_f32_2x4.tasd test/data/tiny_2x4_1x8.tasd $C/tasd/
$T decompose test/data/tiny_conv_v3.npy --config 1:8+3:32 --method optimal -o $C/tasd/conv_1x8_3x32.tasd --quiet >/dev/null
# ONNX seeds (test/data/onnx/ is made by make_onnx.py, which needs python3-onnx).
mkdir -p $C/onnx
cp test/data/onnx/mlp.onnx test/data/onnx/half.onnx test/data/onnx/ext.onnx test/data/onnx/lie_raw.onnx $C/onnx/
