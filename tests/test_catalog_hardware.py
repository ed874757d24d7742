"""Accelerator catalog (data/hardware.csv): new rows pinned to their sources, dense vs sparse,
FP4 tensor support, and device-reported memory against the nominal GiB size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator import catalog
from estimator.units import DType

T = 1e12
MIB = 1024**2
GIB = 1024**3
BENCH = Path(__file__).resolve().parent.parent / "bench"

NEW_ROWS = [
    "b300", "gb200", "gb300", "h20", "h800", "mi355x", "tpu-v6e", "gaudi3", "rtx-4090", "rtx-5090",
    "rtx-pro-6000",
]
# Hardware with FP4 (E2M1) tensor cores: Blackwell (NVFP4/MXFP4: B200, GB200, RTX 50 / RTX PRO
# Blackwell), Blackwell Ultra (B300, GB300) and CDNA4 (MI355X, MXFP4). Hopper, Ada, Ampere, CDNA3,
# TPUs, Gaudi and Neuron have none.
FP4_HARDWARE = {"b200", "b300", "gb200", "gb300", "mi355x", "rtx-5090", "rtx-pro-6000"}


def _all_ids() -> list[str]:
    return list(catalog.table_frame("hardware")["hardware_id"])


def _tf(hardware_id: str, dtype: str) -> float:
    return catalog.get_hardware(hardware_id).peak_flops_per_s(dtype) / T


@pytest.mark.parametrize("hardware_id", _all_ids())
def test_every_row_loads_with_provenance(hardware_id: str) -> None:
    hw = catalog.get_hardware(hardware_id)
    assert hw.hardware_id == hardware_id
    assert hw.source.strip() and hw.as_of is not None
    assert hw.memory_bytes > 0 and hw.memory_bandwidth_bytes_per_s > 0 and hw.tdp_w > 0


def test_new_rows_present() -> None:
    assert set(NEW_ROWS) <= set(_all_ids())


def test_b300_blackwell_ultra_datasheet() -> None:
    # NVIDIA Blackwell Ultra datasheet, HGX B300 column: FP8 9 PF*, FP16/BF16 4.5 PF*, INT8 307 TOPS*,
    # FP32 75 TF, 270 GB HBM3E | 7.7 TB/s, up to 1,100 W (*sparse); HGX page: FP4 144 | 108 PF per 8 GPUs.
    b300 = catalog.get_hardware("b300")
    assert _tf("b300", "fp8") == pytest.approx(9000 / 2)
    assert _tf("b300", "bf16") == pytest.approx(4500 / 2)
    assert _tf("b300", "int8") == pytest.approx(307 / 2)
    assert _tf("b300", "fp32") == pytest.approx(75)
    assert _tf("b300", "fp4") == pytest.approx(108_000 / 8)
    assert b300.memory_datasheet_gb * 1e9 == pytest.approx(270e9)
    assert b300.memory_bandwidth_bytes_per_s == pytest.approx(7.7e12)
    assert b300.tdp_w == 1100 and b300.intra_node_bandwidth_bytes_per_s == pytest.approx(1.8e12)


def test_blackwell_ultra_fp4_is_not_half_of_sparse() -> None:
    # NVIDIA prints Blackwell Ultra FP4 as sparse | dense 18 | 13.5 (HGX B300) and 20 | 15 (GB300):
    # halving the sparse figure would understate B300 (9 PF, the B200 rate) and GB300 (10 PF).
    assert _tf("b300", "fp4") > 18_000 / 2
    assert _tf("gb300", "fp4") == pytest.approx(15_000)
    # Blackwell (B200) keeps the usual 2:1 - HGX B200 FP4 144 | 72 PF per 8 GPUs.
    assert _tf("b200", "fp4") == pytest.approx(18_000 / 2)


def test_gb300_per_gpu() -> None:
    # Blackwell Ultra datasheet, GB300 column: FP8 10 PF*, BF16 5 PF*, INT8 330 TOPS*, FP32 80 TF,
    # 279 GB | 8 TB/s, up to 1,400 W; GB300 NVL72 page: 1,080 PF dense FP4 for 72 GPUs.
    gb300 = catalog.get_hardware("gb300")
    assert _tf("gb300", "fp8") == pytest.approx(10_000 / 2)
    assert _tf("gb300", "bf16") == pytest.approx(5_000 / 2)
    assert _tf("gb300", "int8") == pytest.approx(330 / 2)
    assert _tf("gb300", "fp4") * 72 == pytest.approx(1_080_000)
    assert gb300.memory_datasheet_gb * 1e9 == pytest.approx(279e9) and gb300.memory_bandwidth_bytes_per_s == pytest.approx(8e12)
    assert gb300.tdp_w == 1400


def test_gb200_is_nvl72_divided_by_72() -> None:
    # nvidia.com GB200 NVL72: NVFP4 1,440 | 720 PF, FP8/FP6 720 PF*, INT8 720 POPS*, FP16/BF16 360 PF*,
    # FP32 5,760 TF, 13.4 TB HBM3E | 576 TB/s (*sparse, dense = 1/2); MLCommons: GB200 186 GB.
    gb200 = catalog.get_hardware("gb200")
    assert _tf("gb200", "fp4") * 72 == pytest.approx(720_000)
    assert _tf("gb200", "fp8") * 72 == pytest.approx(720_000 / 2)
    assert _tf("gb200", "int8") * 72 == pytest.approx(720_000 / 2)
    assert _tf("gb200", "bf16") * 72 == pytest.approx(360_000 / 2)
    assert _tf("gb200", "fp32") * 72 == pytest.approx(5_760)
    assert gb200.memory_datasheet_gb * 1e9 * 72 == pytest.approx(13.4e12, rel=0.01)
    assert gb200.memory_bandwidth_bytes_per_s * 72 == pytest.approx(576e12)


def test_nvl72_rows_use_the_nvlink_domain_as_node() -> None:
    # GB200/GB300 NVL72: 72 GPUs in one NVLink 5 domain (130 TB/s), stored as max_per_node.
    for hardware_id in ("gb200", "gb300"):
        hw = catalog.get_hardware(hardware_id)
        assert hw.max_per_node == 72 and hw.intra_node_link == "NVLink5"
    assert catalog.get_hardware("b300").max_per_node == 8


def test_h20_and_h800_china_parts() -> None:
    # H20 (Baidu Baike spec table, TechPowerUp 2025-04-16): 96 GB HBM3, 4.0 TB/s, BF16 148, FP8/INT8 296,
    # FP32 44 TF, 400 W, NVLink 900 GB/s.
    h20 = catalog.get_hardware("h20")
    assert (_tf("h20", "bf16"), _tf("h20", "fp8"), _tf("h20", "int8")) == pytest.approx((148, 296, 296))
    assert h20.memory_datasheet_gb * 1e9 == pytest.approx(96e9) and h20.memory_bandwidth_bytes_per_s == pytest.approx(4.0e12)
    assert h20.tdp_w == 400 and h20.intra_node_bandwidth_bytes_per_s == pytest.approx(900e9)
    # H800 SXM (qiangchuan.com spec page): BF16 1,979*, INT8 3,958* (*sparse), 3.35 TB/s, 700 W,
    # NVLink 400 GB/s; same compute as the H100 SXM row.
    h800 = catalog.get_hardware("h800")
    assert _tf("h800", "bf16") == pytest.approx(1979 / 2, rel=1e-3)
    assert _tf("h800", "int8") == pytest.approx(3958 / 2, rel=1e-3)
    assert h800.peak_flops_per_s_by_dtype == catalog.get_hardware("h100-sxm").peak_flops_per_s_by_dtype
    assert h800.intra_node_bandwidth_bytes_per_s == pytest.approx(400e9)
    # DeepSeek-V3 report (arXiv:2412.19437) section 3.2: InfiniBand 50 GB/s per H800.
    assert h800.inter_node_bandwidth_bytes_per_s == pytest.approx(50e9)


def test_mi355x_derived_from_cu_rate() -> None:
    # ISSCC 2026 (as reported): FP8 8,192 FLOPS/clock/CU; ROCm gpu-specs: 256 CUs; Hot Chips 2025: 2.4 GHz.
    fp8 = 256 * 8192 * 2.4e9 / T
    assert _tf("mi355x", "fp8") == pytest.approx(fp8, rel=1e-4)
    assert _tf("mi355x", "bf16") == pytest.approx(fp8 / 2, rel=1e-4)
    assert _tf("mi355x", "fp4") == pytest.approx(2 * fp8, rel=1e-4)
    # The Register 2025-06-12: "up to 10 petaFLOPS" dense FP4; Tom's Hardware: 20.1 PF with sparsity.
    assert _tf("mi355x", "fp4") == pytest.approx(20_100 / 2, rel=0.01)
    mi355x = catalog.get_hardware("mi355x")
    assert mi355x.memory_datasheet_gb * 1e9 == pytest.approx(288e9) and mi355x.memory_bandwidth_bytes_per_s == pytest.approx(8e12)
    assert mi355x.tdp_w == 1400


def test_mi325x_recheck_same_compute_as_mi300x() -> None:
    # ROCm gpu-specs: MI325X has MI300X's 304 CUs at 2.1 GHz (AMD system table) -> ROCm MI300 table peaks;
    # AMD MI325X page (via docs.vultr.com): 256 GB HBM3E, 6.0 TB/s; 1,000 W.
    mi325x, mi300x = catalog.get_hardware("mi325x"), catalog.get_hardware("mi300x")
    assert mi325x.peak_flops_per_s_by_dtype == mi300x.peak_flops_per_s_by_dtype
    assert _tf("mi325x", "fp8") == pytest.approx(304 * 4096 * 2.1e9 / T, rel=1e-4)
    assert mi325x.memory_datasheet_gb * 1e9 == pytest.approx(256e9) and mi325x.memory_bandwidth_bytes_per_s == pytest.approx(6e12)
    assert mi325x.tdp_w == 1000


def test_tpu_v6e_google_doc() -> None:
    # cloud.google.com/tpu/docs/v6e: 918 TFLOPs bf16, 1836 TOPs int8, 32 GB HBM, 1638 GBps,
    # bidirectional ICI 800 GBps per chip, 8 chips per host.
    v6e = catalog.get_hardware("tpu-v6e")
    assert (_tf("tpu-v6e", "bf16"), _tf("tpu-v6e", "int8")) == pytest.approx((918, 1836))
    assert v6e.memory_datasheet_gb * 1e9 == pytest.approx(32e9) and v6e.memory_bandwidth_bytes_per_s == pytest.approx(1638e9)
    assert v6e.intra_node_bandwidth_bytes_per_s == pytest.approx(800e9) and v6e.max_per_node == 8
    assert v6e.assumed  # Google publishes no TDP


def test_gaudi3_white_paper() -> None:
    # Intel Gaudi 3 white paper (via The Register / pcguia.pt): 1,835 TFLOPS FP8 and BF16 matrix,
    # 128 GB HBM2e, 3.7 TB/s, 900 W (HL-325L OAM), 24 x 200 GbE.
    g3 = catalog.get_hardware("gaudi3")
    assert (_tf("gaudi3", "bf16"), _tf("gaudi3", "fp8")) == pytest.approx((1835, 1835))
    assert g3.memory_datasheet_gb * 1e9 == pytest.approx(128e9) and g3.memory_bandwidth_bytes_per_s == pytest.approx(3.7e12)
    assert g3.tdp_w == 900
    assert g3.intra_node_bandwidth_bytes_per_s == pytest.approx(21 * 200e9 / 8 * 2)  # 21 ports x 200 Gb/s, both ways


def test_geforce_and_rtx_pro_cards() -> None:
    # Ada whitepaper (RTX 4090): FP16/BF16 w/ FP32 accumulate 165.2 | 330.4*, FP8 330.3 | 660.6*,
    # INT8 660.6 | 1,321.2*, INT4 1,321.2 | 2,642.4*; 24 GB, 1,008 GB/s, 450 W.
    assert _tf("rtx-4090", "bf16") == pytest.approx(330.4 / 2, rel=1e-3)
    assert _tf("rtx-4090", "fp8") == pytest.approx(660.6 / 2, rel=1e-3)
    assert _tf("rtx-4090", "int8") == pytest.approx(1321.2 / 2)
    assert _tf("rtx-4090", "int4") == pytest.approx(2642.4 / 2)
    rtx4090 = catalog.get_hardware("rtx-4090")
    assert rtx4090.memory_bandwidth_bytes_per_s == pytest.approx(1008e9) and rtx4090.tdp_w == 450
    # RTX 5090 (spheron copy of NVIDIA specs): 3,352 AI TOPS FP4 sparse, 32 GB GDDR7, 1,792 GB/s, 575 W.
    assert _tf("rtx-5090", "fp4") == pytest.approx(3352 / 2)
    rtx5090 = catalog.get_hardware("rtx-5090")
    assert rtx5090.memory_bandwidth_bytes_per_s == pytest.approx(1792e9) and rtx5090.tdp_w == 575
    # RTX PRO 6000 Blackwell (GTC 2025): 4,000 AI TOPS FP4 sparse, 125 TF FP32, 96 GB GDDR7, 600 W WS.
    assert _tf("rtx-pro-6000", "fp4") == pytest.approx(4000 / 2)
    assert _tf("rtx-pro-6000", "fp32") == pytest.approx(125)
    pro = catalog.get_hardware("rtx-pro-6000")
    assert pro.memory_datasheet_gb * 1e9 == pytest.approx(96e9) and pro.tdp_w == 600
    # No NVLink and no data-centre network on these cards: multi-node layouts are refused.
    for hardware_id in ("rtx-4090", "rtx-5090", "rtx-pro-6000"):
        assert catalog.get_hardware(hardware_id).inter_node_bandwidth_bytes_per_s == 0


@pytest.mark.parametrize("hardware_id", _all_ids())
def test_fp4_only_on_fp4_tensor_cores(hardware_id: str) -> None:
    assert catalog.get_hardware(hardware_id).supports(DType.FP4) == (hardware_id in FP4_HARDWARE)


def test_fp4_doubles_fp8_except_blackwell_ultra() -> None:
    # Blackwell and CDNA4 run FP4 at 2x FP8 (HGX B200 72 vs 36 PF dense; MI355X 10 vs 5 PF);
    # Blackwell Ultra runs it at 3x (B300 13.5 vs 4.5, GB300 15 vs 5). The RTX 5090 row is left out:
    # its FP8 is the FP32-accumulate rate, which GeForce halves, while its FP4 AI TOPS is not halved.
    for hardware_id in FP4_HARDWARE - {"b300", "gb300", "rtx-5090"}:
        assert _tf(hardware_id, "fp4") == pytest.approx(2 * _tf(hardware_id, "fp8"), rel=1e-3), hardware_id
    for hardware_id in ("b300", "gb300"):
        assert _tf(hardware_id, "fp4") == pytest.approx(3 * _tf(hardware_id, "fp8")), hardware_id


@pytest.mark.parametrize("hardware_id", _all_ids())
def test_reported_memory_within_nominal_gib(hardware_id: str) -> None:
    # NVIDIA/AMD/Intel quote HBM/GDDR "GB" that are GiB-sized; the driver reports that less a
    # reservation (ECC on GDDR6 datacenter parts: T4 15,109 MiB of 16 GiB, about 92%).
    hw = catalog.get_hardware(hardware_id)
    if hw.memory_reported_bytes is None:
        return
    nominal_gib_bytes = hw.memory_datasheet_gb * GIB
    assert 0.9 * nominal_gib_bytes <= hw.memory_reported_bytes <= nominal_gib_bytes, hardware_id


def test_reported_memory_matches_the_device_measurements() -> None:
    # bench/results-h100-device-roofline.json and results-h200-...: torch total_memory on the device.
    for hardware_id, result in (("h100-sxm", "h100"), ("h200", "h200")):
        measured = json.loads((BENCH / f"results-{result}-device-roofline.json").read_text())["memory_bytes"]
        assert catalog.get_hardware(hardware_id).memory_reported_bytes == measured, hardware_id
    # nvidia-smi memory.total seen in public logs, in MiB.
    observed_mib = {"b300": 275040, "gb200": 189471, "gb300": 284208, "h20": 97871, "rtx-4090": 24564,
                    "rtx-5090": 32607, "rtx-pro-6000": 97887, "mi355x": 294896, "gaudi3": 131072}
    for hardware_id, mib in observed_mib.items():
        assert catalog.get_hardware(hardware_id).memory_reported_bytes == mib * MIB, hardware_id


def test_every_gpu_row_has_reported_memory() -> None:
    # All NVIDIA/AMD GPU rows carry a device-reported (or derived) total; TPUs, Neuron and CPUs may not.
    for hw in catalog.list_hardware():
        if hw.kind == "gpu":
            assert hw.memory_reported_bytes is not None, hw.hardware_id
