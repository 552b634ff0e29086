// Runs an ONNX model with ONNX Runtime (CPU) on one input and prints the
// output as JSON: node run_onnx.js MODEL INPUT.bin DIM... (float32 little
// endian input, dims of the model's single input). Used by qbound's tests as
// an independent reference; it fails loudly (exit 1) on any error.
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, inputPath, ...dimArgs] = process.argv.slice(2);
  if (!model || !inputPath || dimArgs.length === 0) throw new Error('usage: run_onnx.js MODEL INPUT.bin DIM...');
  const dims = dimArgs.map(Number);
  const bytes = fs.readFileSync(inputPath);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`input has ${data.length} values, dims say ${expected}`);
  const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
  const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) });
  const out = result[session.outputNames[0]];
  process.stdout.write(JSON.stringify({ dims: out.dims, data: Array.from(out.data) }) + '\n');
}

main().catch((e) => { console.error('run_onnx.js: ' + (e && e.stack ? e.stack : e)); process.exit(1); });
