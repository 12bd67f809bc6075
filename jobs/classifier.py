"""On-device waste classifier: EfficientNet-Lite0 fine-tuned on TrashNet, run by ONNX Runtime.

The model folder contains `model.onnx` and `labels.json`, both written by
`scripts/train_classifier.py`. `models/waste-classifier/CARD.md` describes what the
model can and cannot recognise. Nothing here runs at import time, so the worker can load the model
after it forks.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import onnxruntime
from PIL import Image

UNKNOWN_CATEGORY = "unknown"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "waste-classifier"

# EXIF orientation values and the transpose that turns the photo upright (the mapping of Pillow's ImageOps.exif_transpose).
_EXIF_ORIENTATION_TAG = 0x0112
_UPRIGHT_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class Classification(msgspec.Struct, frozen=True, kw_only=True):
    """Result for one photo: the top category, or `unknown` below the threshold."""

    category: str
    confidence: float  # probability of the top category, also when `category` is unknown
    model: str
    scores: dict[str, float]  # probability per category, summing to 1


class InputSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Input tensor layout and normalisation: (pixel * scale - mean) / std."""

    name: str
    layout: str
    height: int
    width: int
    color: str
    scale: float
    mean: list[float]
    std: list[float]


class OutputSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kind: str


class ModelSpec(msgspec.Struct, forbid_unknown_fields=True):
    """The contents of `labels.json`."""

    model: str
    categories: list[str]
    input: InputSpec
    output: OutputSpec
    threshold: float


class LocalClassifier:
    """Classify a photo into one of the model's waste categories on the CPU."""

    def __init__(self, session: onnxruntime.InferenceSession, spec: ModelSpec, threshold: float | None = None) -> None:
        threshold = spec.threshold if threshold is None else threshold
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if spec.input.layout != "NCHW" or spec.input.color != "RGB":
            raise ValueError(f"model input must be RGB in NCHW layout, got {spec.input.color} {spec.input.layout}")

        output_shape = session.get_outputs()[0].shape
        if output_shape[-1] != len(spec.categories):
            raise ValueError(
                f"model output must have one column per category in labels.json ({len(spec.categories)}), "
                f"got shape {output_shape}"
            )

        self.session = session
        self.spec = spec
        self.threshold = threshold
        self._size = (spec.input.width, spec.input.height)
        std = np.asarray(spec.input.std, dtype=np.float32)
        self._pixel_scale = np.float32(spec.input.scale) / std
        self._pixel_offset = np.asarray(spec.input.mean, dtype=np.float32) / std

    @classmethod
    def load(cls, model_dir: Path = DEFAULT_MODEL_DIR, threshold: float | None = None) -> LocalClassifier:
        """Read `labels.json` and open `model.onnx` in a one-thread ONNX Runtime session."""
        labels_path = model_dir / "labels.json"
        model_path = model_dir / "model.onnx"
        for path in (labels_path, model_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found; train it with scripts/train_classifier.py or fix the model folder")
        try:
            spec = msgspec.json.decode(labels_path.read_bytes(), type=ModelSpec)
        except msgspec.ValidationError as err:
            raise ValueError(f"invalid {labels_path}: {err}") from err

        options = onnxruntime.SessionOptions()
        # One thread per session, so that several worker processes on one machine do not compete for cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        return cls(session, spec, threshold)

    @property
    def model_name(self) -> str:
        return self.spec.model

    def classify(self, image: Image.Image) -> Classification:
        pixels = self.preprocess(image)
        probabilities = self.session.run([self.spec.output.name], {self.spec.input.name: pixels})[0][0]

        scores = {category: float(p) for category, p in zip(self.spec.categories, probabilities)}
        top = int(np.argmax(probabilities))
        confidence = float(probabilities[top])
        category = self.spec.categories[top] if confidence >= self.threshold else UNKNOWN_CATEGORY
        return Classification(category=category, confidence=confidence, model=self.spec.model, scores=scores)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """Squeeze the whole photo to the model's square input and normalise it (1 x 3 x H x W float32)."""
        # NOTE: only a JPEG that still carries its EXIF orientation is turned upright here;
        # other formats are expected upright. The model was trained on quarter turns anyway.
        transpose = None
        if image.format == "JPEG":
            transpose = _UPRIGHT_TRANSPOSE.get(image.getexif().get(_EXIF_ORIENTATION_TAG, 1))
            if image.tile:
                # Not decoded yet: libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below the input size.
                image.draft("RGB", self._size)
        if image.mode != "RGB":
            image = image.convert("RGB")

        width, height = self._size
        if transpose is not None and width != height:
            image = image.transpose(transpose)
            transpose = None
        resized = image.resize(self._size, Image.Resampling.BILINEAR)
        # On a square input, turning the small image gives the same pixels as turning the photo first.
        if transpose is not None:
            resized = resized.transpose(transpose)

        pixels = np.asarray(resized, dtype=np.float32) * self._pixel_scale - self._pixel_offset
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis])
