"""The capacity page's "Deploy this plan" section: the engine launch command and, on click, a zip of
the launch script and Kubernetes manifests (``estimator.deploy``)."""

from __future__ import annotations

import streamlit as st

from estimator import deploy, engines
from estimator.capacity import CapacityPlan
from estimator.errors import EstimatorError
from estimator.formatting import integer
from estimator.scenario import Scenario
from pages._ui import plain

__all__ = ["deploy_section"]


def deploy_section(scenario: Scenario, plan: CapacityPlan) -> None:
    """Draw the launch command of one replica and a download of every deployment file."""
    st.markdown("#### Deploy this plan")
    try:
        b = deploy.bundle(scenario, plan)
    except EstimatorError as exc:
        st.info(f"No deployment files for this plan: {exc}", icon=":material/info:")
        return
    label = engines.LABELS[b.command.engine]
    st.caption(
        f"{label} {b.command.version} in `{b.image}`, {integer(plan.devices_per_replica)} "
        f"{plain(plan.hardware_name)} per replica, {integer(b.min_replicas)} to {integer(b.max_replicas)} replicas "
        f"(the plan's quietest and busiest hours). Every flag is checked against {label}'s own command-line "
        f"options; the autoscaler targets {plan.max_rps_per_replica:,.2f} requests/s per replica through the "
        f"`{deploy.REQUESTS_METRIC}` pod metric, which the cluster's metrics adapter must serve."
    )
    st.code(b.command.shell(), language="bash")
    for warning in b.warnings:
        st.warning(plain(warning, limit=400), icon=":material/warning:")
    st.download_button(
        "Launch script and Kubernetes manifests (zip)", lambda: deploy.zip_bytes(b),
        file_name=f"{deploy.manifests_name(b)}-deploy.zip", mime="application/zip",
        icon=":material/download:", key="_deploy_zip", on_click="ignore",
        help="launch.sh, deployment.yaml, service.yaml, hpa.yaml (configmap.yaml for TensorRT-LLM extra options)",
    )
