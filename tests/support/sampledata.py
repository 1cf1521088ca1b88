"""Sample DICOM objects and query files for tests, the demo and benchmarks.

Why: the spec rig was recorded with pydicom's bundled test files (CT_small,
MR_small, rtplan), so tests that compare with the spec transcripts need
exactly those objects (same UIDs, PatientIDs, file names).  Benchmarks need
bigger, reproducible data sets, generated here with pydicom only (no network,
no external data).  Query files are built from the dcmdump-style ``*.dump``
files in ``tests/data/query/`` (copied from the spec rig) with pydicom, so no
binary fixture has to be committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

QUERY_DIR = Path(__file__).parents[1] / "data" / "query"


@dataclass(frozen=True)
class Sample:
    """One of the spec rig's objects, as tests refer to it."""

    name: str            # pydicom test file name
    patient_id: str
    modality_prefix: str  # DCMTK file name prefix (CT, MR, RP)
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str

    @property
    def path(self) -> Path:
        return sample_path(self.name)

    @property
    def dcmtk_filename(self) -> str:
        """Name DCMTK's getscu/movescu give the received file: ``<prefix>.<UID>``."""
        return f"{self.modality_prefix}.{self.sop_instance_uid}"


CT = Sample("CT_small.dcm", "1CT1", "CT", "1.2.840.10008.5.1.4.1.1.2",
            "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322",
            "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
            "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322",
            "1.2.840.10008.1.2.1")
MR = Sample("MR_small.dcm", "4MR1", "MR", "1.2.840.10008.5.1.4.1.1.4",
            "1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457",
            "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457",
            "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457",
            "1.2.840.10008.1.2.1")
RTPLAN = Sample("rtplan.dcm", "id00001", "RP", "1.2.840.10008.5.1.4.1.1.481.5",
                "1.2.777.777.77.7.7777.7777.20030903150023",
                "1.22.333.4.555555.6.7777777777777777777777777777",
                "1.2.333.444.55.6.7777.8888",
                "1.2.840.10008.1.2")

#: The three objects the rig's dcmqrscp (and the ``qrscp`` fixture) holds.
SAMPLES: tuple[Sample, ...] = (CT, MR, RTPLAN)


def sample_path(name: str) -> Path:
    """Path of a pydicom bundled test file (raises if pydicom lacks it)."""
    path = get_testdata_file(name)
    if path is None:
        raise FileNotFoundError(f"pydicom test file {name} not available")
    return Path(str(path))


def sample_paths() -> list[Path]:
    return [s.path for s in SAMPLES]


# --------------------------------------------------------------------------
# query files from dumps

_DUMP_LINE = re.compile(r"^\s*\(([0-9a-fA-F]{4}),([0-9a-fA-F]{4})\)\s+(\w\w)\s*(.*)$")


def parse_dump(text: str) -> Dataset:
    """Parse the small dcmdump subset used by the query dumps into a Dataset.

    Supported: ``(gggg,eeee) VR [value]`` lines, ``SQ`` with items delimited
    by ``(fffe,e000)``/``(fffe,e00d)`` and ``(fffe,e0dd)``; values in
    brackets (empty brackets or no value give an empty element).  This is
    what ``/usr/bin/dump2dcm`` reads for these files; tests compare both.
    """
    root = Dataset()
    stack: list[Dataset] = [root]
    seqs: list[Sequence] = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _DUMP_LINE.match(raw)
        if not match:
            raise ValueError(f"unsupported dump line: {raw!r}")
        group, elem, vr, rest = match.groups()
        tag = (int(group, 16) << 16) | int(elem, 16)
        if tag == 0xFFFEE000:  # item start
            item = Dataset()
            seqs[-1].append(item)
            stack.append(item)
            continue
        if tag == 0xFFFEE00D:  # item end
            stack.pop()
            continue
        if tag == 0xFFFEE0DD:  # sequence end
            seqs.pop()
            continue
        if vr == "SQ":
            seq = Sequence()
            stack[-1].add_new(tag, "SQ", seq)
            seqs.append(stack[-1][tag].value)
            continue
        value_match = re.match(r"\[(.*)\]", rest.strip())
        value = value_match.group(1) if value_match else ""
        stack[-1].add_new(tag, vr, value)
    return root


def write_query_file(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM file with meta header (as dump2dcm does)."""
    ds = ds.copy()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.2.1.2")  # Patient Root GET
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def query_dump_path(name: str) -> Path:
    return QUERY_DIR / f"{name}.dump"


def query_names() -> list[str]:
    return sorted(p.stem for p in QUERY_DIR.glob("*.dump"))


def build_query_file(name: str, out_dir: Path) -> Path:
    """Build ``<out_dir>/<name>.dcm`` from ``tests/data/query/<name>.dump``."""
    ds = parse_dump(query_dump_path(name).read_text())
    return write_query_file(ds, Path(out_dir) / f"{name}.dcm")


def build_query_files(out_dir: Path) -> dict[str, Path]:
    """All query files (pat_all, pat_ct, pat_none, seq, study_mr, …)."""
    return {name: build_query_file(name, out_dir) for name in query_names()}


# --------------------------------------------------------------------------
# generated data for benchmarks and big-data tests

def _base_dataset(template: str) -> Dataset:
    ds = dcmread(sample_path(template))
    return ds


def make_ct_study(out_dir: Path, count: int, pixels_bytes: int = 512 * 1024,
                  patient_id: str = "BENCHCT", seed: str = "bench") -> tuple[str, list[Path]]:
    """Write ``count`` CT images of about ``pixels_bytes`` each, one study.

    Why CT_small as template: a valid CT Image Storage object that every SCP
    in the rig accepts; only UIDs and pixel data change, so sizes are exact.
    Returns (StudyInstanceUID, paths).  UIDs are derived from ``seed`` so a
    rerun produces the same UIDs (dcmqrscp then just replaces the objects).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    template = _base_dataset("CT_small.dcm")
    study_uid = generate_uid(entropy_srcs=[seed, "study", patient_id])
    series_uid = generate_uid(entropy_srcs=[seed, "series", patient_id])
    side = int((pixels_bytes // 2) ** 0.5)
    pixel_data = bytes(range(256)) * (side * side * 2 // 256 + 1)
    pixel_data = pixel_data[: side * side * 2]
    paths = []
    ds = template  # mutated in place: every varying element is set each round
    for i in range(count):
        ds.PatientID = patient_id
        ds.PatientName = f"Bench^{patient_id}"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        uid = generate_uid(entropy_srcs=[seed, "image", patient_id, str(i)])
        ds.SOPInstanceUID = uid
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.InstanceNumber = i + 1
        ds.Rows = side
        ds.Columns = side
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelRepresentation = 0
        ds.PixelData = pixel_data
        ds["PixelData"].VR = "OW"
        path = out_dir / f"ct{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return study_uid, paths


def make_tiny_objects(out_dir: Path, count: int, patient_id: str = "BENCHTINY",
                      seed: str = "bench") -> tuple[str, list[Path]]:
    """Write ``count`` tiny objects (a few hundred bytes each), one study.

    Why: per-object overhead (DIMSE round trips, file creation, Nagle stalls)
    dominates retrieval of many small objects; this isolates it.  They are
    Secondary Capture objects without pixel data, accepted by dcmqrscp.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    study_uid = generate_uid(entropy_srcs=[seed, "study", patient_id])
    series_uid = generate_uid(entropy_srcs=[seed, "series", patient_id])
    sop_class = UID("1.2.840.10008.5.1.4.1.1.7")  # Secondary Capture Image Storage
    paths = []
    for i in range(count):
        uid = generate_uid(entropy_srcs=[seed, "tiny", patient_id, str(i)])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.preamble = b"\x00" * 128
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = uid
        ds.PatientID = patient_id
        ds.PatientName = f"Tiny^{patient_id}"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.Modality = "OT"
        ds.ConversionType = "WSD"
        ds.StudyID = "1"
        ds.SeriesNumber = 1
        ds.InstanceNumber = i + 1
        path = out_dir / f"tiny{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return study_uid, paths


def encode_dataset(ds: Dataset, ts_uid: str) -> bytes:
    """``ds`` encoded as a data set (no meta) in transfer syntax ``ts_uid``
    (Implicit/Explicit Little, Explicit Big, or Deflated: raw deflate of the
    Explicit Little encoding at level 6, as on the wire)."""
    import zlib

    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    from dcmretrieve.dicom.uids import DEFLATED_LE, EXPLICIT_BE, IMPLICIT_LE

    buf = DicomBytesIO()
    buf.is_little_endian = ts_uid != EXPLICIT_BE
    buf.is_implicit_VR = ts_uid == IMPLICIT_LE
    write_dataset(buf, ds)
    data = buf.getvalue()
    if ts_uid == DEFLATED_LE:
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = comp.compress(data) + comp.flush()
    return data
