// Runs an ONNX model in onnxruntime-node (test/onnx_e2e.py drives it):
//   node onnx_e2e_run.js ORT_DIR MODEL OUT NAME:D0xD1x... [...]
// Each input is filled with the same deterministic values (exact in f32);
// the outputs' raw float32 bytes are concatenated into OUT, in the
// session's output order.
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
    const [ortDir, model, out, ...inputs] = process.argv.slice(2);
    const ort = require(path.resolve(ortDir, 'node_modules', 'onnxruntime-node'));
    // One thread and no graph rewrites: the two runs must do the same arithmetic.
    const session = await ort.InferenceSession.create(model, {
        intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled'});
    const feeds = {};
    for (const spec of inputs) {
        const k = spec.lastIndexOf(':');
        const dims = spec.slice(k + 1).split('x').map(Number);
        const n = dims.reduce((a, b) => a * b, 1);
        const data = new Float32Array(n);
        for (let i = 0; i < n; i++)
            data[i] = ((i * 37 + 11) % 17 - 8) / 8;
        feeds[spec.slice(0, k)] = new ort.Tensor('float32', data, dims);
    }
    const results = await session.run(feeds);
    const parts = session.outputNames.map(
        (name) => Buffer.from(results[name].data.buffer, results[name].data.byteOffset,
                              results[name].data.byteLength));
    fs.writeFileSync(out, Buffer.concat(parts));
}

main().catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
});
