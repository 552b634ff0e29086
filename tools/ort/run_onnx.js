// Runs an ONNX model with ONNX Runtime (CPU) on one input and prints the
// output as JSON: node run_onnx.js [--runs N] MODEL INPUT.bin DIM... (float32
// little endian input, dims of the model's single input). Used by qbound's
// tests as an independent reference; it fails loudly (exit 1) on any error.
// With --runs N (`qbound bench`), the first run is a warm-up and N more
// session.run calls are timed: the output also holds their median_seconds.
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  let args = process.argv.slice(2);
  let runs = 0;
  if (args[0] === '--runs') {
    runs = Number(args[1]);
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${args[1]}: need a positive integer`);
    args = args.slice(2);
  }
  const [model, inputPath, ...dimArgs] = args;
  if (!model || !inputPath || dimArgs.length === 0) throw new Error('usage: run_onnx.js [--runs N] MODEL INPUT.bin DIM...');
  const dims = dimArgs.map(Number);
  const bytes = fs.readFileSync(inputPath);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`input has ${data.length} values, dims say ${expected}`);
  const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  const report = { dims: out.dims, data: Array.from(out.data) };
  if (runs > 0) {
    const times = [];
    for (let i = 0; i < runs; ++i) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
    times.sort((a, b) => a - b);
    report.median_seconds = times[Math.floor(times.length / 2)];
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => { console.error('run_onnx.js: ' + (e && e.stack ? e.stack : e)); process.exit(1); });
