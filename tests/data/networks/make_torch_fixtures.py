#!/usr/bin/python3
"""Writes the PyTorch-exported fixtures of qbound's ONNX import tests.

Run with Debian's python3-torch (1.13) and python3-onnx (1.12):
    /usr/bin/python3 tests/data/networks/make_torch_fixtures.py tests/data/networks
The outputs are committed, so the tests need neither tool.

  torch_cnn.onnx            a small CNN (seeded init), float32, exported by torch.onnx
  torch_cnn_fakequant.onnx  the same CNN with per-channel symmetric int8 fake quantization of
                            every weight tensor (torch.fake_quantize_per_channel_affine, as
                            QAT exports it): QuantizeLinear -> DequantizeLinear on the weights
  torch_cnn_qdq_int8.onnx   the same quantized weights stored as int8 codes with DequantizeLinear,
                            as ONNX Runtime's quantization tool writes weight-only QDQ; the codes
                            are computed with numpy as that tool does (float32 x / scale, round
                            half to even, + zero point, clip)
  torch_cnn_ptq.onnx        torch's own post-training static quantization (qnnpack, the engine Debian's build has), exported:
                            its activations are quantized too (qbound refuses it, naming why)
  torch_mlp_view.onnx       an MLP on a 1x3x2x2 input whose forward flattens with x.view(-1)
                            (Reshape to [features], then MatMul + Add on a 1-D tensor)
  torch_cnn_pad.onnx        a CNN with asymmetric zero padding before its convolutions (F.pad and
                            nn.ZeroPad2d; torch writes a Pad whose pads come from a ConstantOfShape /
                            Concat / Reshape / Slice / Transpose / Cast chain)
  torch_reference.json      torch's outputs of the float and the fake-quant CNN, of the MLP and of
                            the padded CNN, at three seeded inputs
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper
import torch
import torch.nn as nn

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
torch.manual_seed(20261206)
np.random.seed(20261206)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2)
        self.fc = nn.Linear(6 * 6 * 6, 5)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


def per_channel_qparams(w):
    obs = torch.ao.quantization.PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs(w)
    scale, zero_point = obs.calculate_qparams()
    return scale.float(), zero_point.int()


class FakeQuantCNN(CNN):
    def calibrate(self):
        # per-channel symmetric int8 scales from the weights, fixed before export
        self.qparams = {name: per_channel_qparams(getattr(self, name).weight.detach()) for name in ("conv1", "conv2", "fc")}

    def forward(self, x):
        def fq(layer):
            name = [k for k in ("conv1", "conv2", "fc") if getattr(self, k) is layer][0]
            s, z = self.qparams[name]
            return torch.fake_quantize_per_channel_affine(layer.weight, s, z, 0, -128, 127)
        x = torch.relu(nn.functional.conv2d(x, fq(self.conv1), self.conv1.bias, padding=1))
        x = torch.relu(nn.functional.conv2d(x, fq(self.conv2), self.conv2.bias, stride=2))
        return nn.functional.linear(torch.flatten(x, 1), fq(self.fc), self.fc.bias)


class MLPView(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(12, 8)
        self.l2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.l2(torch.relu(self.l1(x.view(-1))))


def export(model, x, name):
    path = os.path.join(out_dir, name)
    torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["output"], do_constant_folding=False)
    return path


model = CNN().eval()
fake = FakeQuantCNN().eval()
fake.load_state_dict(model.state_dict())
fake.calibrate()
x0 = torch.zeros(1, 1, 14, 14)
export(model, x0, "torch_cnn.onnx")
fq_path = export(fake, x0, "torch_cnn_fakequant.onnx")

# Weight-only QDQ with int8 codes, written as ONNX Runtime's quantization tool does.
g = onnx.load(fq_path)
graph = g.graph
inits = {t.name: t for t in graph.initializer}
producers = {o: n for n in graph.node for o in n.output}
constants = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}


def const_value(name):
    if name in inits:
        return numpy_helper.to_array(inits[name])
    if name in constants:
        return numpy_helper.to_array(constants[name].attribute[0].t)
    cast = producers[name]  # torch casts the zero point's constant to int8
    assert cast.op_type == "Cast"
    return const_value(cast.input[0])


new_nodes = []
new_inits = list(graph.initializer)
for n in graph.node:
    if n.op_type != "QuantizeLinear":
        new_nodes.append(n)
        continue
    w = const_value(n.input[0]).astype(np.float32)
    scale = const_value(n.input[1]).astype(np.float32)
    zp = const_value(n.input[2])
    axis = [a.i for a in n.attribute if a.name == "axis"][0]
    shape = [1] * w.ndim
    shape[axis] = -1
    codes = np.clip(np.rint(w / scale.reshape(shape)) + zp.reshape(shape).astype(np.float32), -128, 127).astype(np.int8)
    new_inits.append(numpy_helper.from_array(codes, n.output[0]))
keep_inits = [t for t in new_inits]
graph.ClearField("node")
graph.node.extend(new_nodes)
graph.ClearField("initializer")
graph.initializer.extend(keep_inits)
# drop float weights no node reads any more
used = {i for n in graph.node for i in n.input}
kept = [t for t in graph.initializer if t.name in used]
graph.ClearField("initializer")
graph.initializer.extend(kept)
g.producer_name = "qbound make_torch_fixtures.py (weight-only QDQ as onnxruntime.quantization writes it)"
onnx.checker.check_model(g)
onnx.save(g, os.path.join(out_dir, "torch_cnn_qdq_int8.onnx"))

# torch's own post-training static quantization, exported (activations quantized).
class Stubbed(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.inner = inner
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.inner(self.quant(x)))


class PlainCNN(nn.Module):
    def __init__(self, src):
        super().__init__()
        self.conv1, self.relu1 = src.conv1, nn.ReLU()
        self.conv2, self.relu2 = src.conv2, nn.ReLU()
        self.fc = src.fc

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(torch.flatten(x, 1))


torch.backends.quantized.engine = "qnnpack"
ptq = Stubbed(PlainCNN(CNN().eval())).eval()
ptq.load_state_dict({"inner." + k: v for k, v in model.state_dict().items()})
ptq.qconfig = torch.ao.quantization.get_default_qconfig("qnnpack")
prepared = torch.ao.quantization.prepare(ptq)
with torch.no_grad():
    for _ in range(8):
        prepared(torch.rand(1, 1, 14, 14))
converted = torch.ao.quantization.convert(prepared)
try:
    export(converted, x0, "torch_cnn_ptq.onnx")
    ptq_note = "exported"
except Exception as e:  # noqa: BLE001 (recorded in the reference file)
    ptq_note = "torch.onnx could not export it: " + str(e).splitlines()[0]

mlp = MLPView().eval()
export(mlp, torch.zeros(1, 3, 2, 2), "torch_mlp_view.onnx")


class PadCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 2)             # 'same' for an even kernel: one more row and column after
        self.pad2 = nn.ZeroPad2d((1, 0, 2, 1))      # left, right, top, bottom
        self.conv2 = nn.Conv2d(3, 4, 3, stride=2)
        self.fc = nn.Linear(4 * 4 * 2, 3)

    def forward(self, x):
        x = torch.relu(self.conv1(nn.functional.pad(x, (0, 1, 0, 1))))
        x = torch.relu(self.conv2(self.pad2(x)))
        return self.fc(torch.flatten(x, 1))


pad_cnn = PadCNN().eval()
export(pad_cnn, torch.zeros(1, 2, 6, 5), "torch_cnn_pad.onnx")

inputs = [np.random.uniform(-1, 1, size=(1, 1, 14, 14)).astype(np.float32) for _ in range(3)]
mlp_inputs = [np.random.uniform(-1, 1, size=(1, 3, 2, 2)).astype(np.float32) for _ in range(3)]
pad_inputs = [np.random.uniform(-1, 1, size=(1, 2, 6, 5)).astype(np.float32) for _ in range(3)]
with torch.no_grad():
    ref = {
        "note": "outputs of torch " + torch.__version__ + " (float32) at seeded inputs",
        "ptq": ptq_note,
        "cnn": [{"input": x.ravel().tolist(), "float": model(torch.from_numpy(x)).ravel().tolist(),
                 "fakequant": fake(torch.from_numpy(x)).ravel().tolist()} for x in inputs],
        "mlp_view": [{"input": x.ravel().tolist(), "output": mlp(torch.from_numpy(x)).tolist()} for x in mlp_inputs],
        "cnn_pad": [{"input": x.ravel().tolist(), "output": pad_cnn(torch.from_numpy(x)).ravel().tolist()} for x in pad_inputs],
    }
with open(os.path.join(out_dir, "torch_reference.json"), "w") as f:
    json.dump(ref, f, indent=1)
print("wrote fixtures to", out_dir, "; ptq:", ptq_note)
