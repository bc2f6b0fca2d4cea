"""The Vertex AI custom job that runs `model.train` on several machines.

`job_spec(...)` builds the job as a plain dict (what `--dry_run` prints);
`submit(spec)` imports google.cloud.aiplatform only then and submits it.
Worker pool 0 is the chief (1 replica), pool 1 the other N-1 workers; Vertex
sets TF_CONFIG on every replica, which `model.strategy` reads to choose
MultiWorkerMirroredStrategy.
"""

import re

TRAIN_COMMAND = ["python", "-m", "model.train"]
_ACCELERATOR_PATTERN = re.compile(r"^([A-Z0-9_]+):([1-9][0-9]*)$")


def parse_accelerator(text):
    """'NVIDIA_TESLA_T4:1' -> ('NVIDIA_TESLA_T4', 1); '' or None -> (None, 0)."""
    if not text:
        return None, 0
    match = _ACCELERATOR_PATTERN.match(text.strip())
    if not match:
        raise ValueError(f"--accelerator {text!r}: expected TYPE:COUNT, e.g. NVIDIA_TESLA_T4:1 "
                         f"or NVIDIA_L4:2 (Vertex AI accelerator type names)")
    return match.group(1), int(match.group(2))


def machine_spec(machine_type, accelerator):
    accelerator_type, accelerator_count = parse_accelerator(accelerator)
    spec = {"machine_type": machine_type}
    if accelerator_type:
        spec.update(accelerator_type=accelerator_type, accelerator_count=accelerator_count)
    return spec


def job_spec(project, region, image, machine_type, accelerator, workers, train_args,
             display_name="videoqa-train", staging_bucket=None):
    """The custom job as a dict: project, location, display_name and worker pool specs."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    for flag, value in (("--project", project), ("--region", region), ("--image", image),
                        ("--machine_type", machine_type)):
        if not value:
            raise ValueError(f"{flag} is required with --vertex")
    container = {"image_uri": image, "command": list(TRAIN_COMMAND), "args": list(train_args)}
    pool = {"machine_spec": machine_spec(machine_type, accelerator), "container_spec": container}
    pools = [dict(pool, replica_count=1)]
    if workers > 1:
        pools.append(dict(pool, replica_count=workers - 1))
    spec = {"project": project, "location": region, "display_name": display_name,
            "job_spec": {"worker_pool_specs": pools}}
    if staging_bucket:
        spec["staging_bucket"] = staging_bucket
    return spec


def submit(spec):
    """Submit the job to Vertex AI; returns its resource name."""
    from google.cloud import aiplatform  # Only when actually submitting.
    aiplatform.init(project=spec["project"], location=spec["location"],
                    staging_bucket=spec.get("staging_bucket"))
    job = aiplatform.CustomJob(display_name=spec["display_name"],
                               worker_pool_specs=spec["job_spec"]["worker_pool_specs"],
                               staging_bucket=spec.get("staging_bucket"))
    job.submit()
    return job.resource_name
