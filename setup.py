"""Packaging for the video question answering toolkit.

`pip install .` installs the three packages; Dataflow workers install the same
file through `--setup_file ./setup.py`.
"""

import setuptools

setuptools.setup(
    name="videoqa",
    version="0.1.0",
    description="Video question answering: precomputed CNN frame features (InceptionV3 or another "
                "keras.applications backbone) with Apache Beam and tf.Transform, a Keras trainer with "
                "tf.distribute, evaluation on the published benchmarks, and a local answering service.",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=setuptools.find_packages(include=["features", "features.*", "pipeline", "pipeline.*",
                                               "model", "model.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tf_keras>=2.21,<2.22",
        "tensorflow-transform>=1.21,<1.22",
        "apache-beam[gcp]>=2.60,<3",
        "numpy>=1.26",
        "av>=14",
        "matplotlib>=3.8",
        "tensorboard>=2.21,<2.22",  # tf.summary (TensorBoard logs); TensorFlow 2.21 no longer pulls it in
        # python -m model.serve: the ASGI toolkit, its server, and the streaming multipart parser.
        "starlette>=0.40,<2",
        "uvicorn>=0.30,<1",
        "python-multipart>=0.0.18,<1",
    ],
    package_data={"model": ["static/*.html", "static/*.css", "static/*.js"]},
    extras_require={
        # playwright drives Debian's /usr/bin/chromium in tests/test_serve_browser.py (no browser download).
        # pytest-xdist: two test processes share the 2-core CI machine (much of a test's time is one core
        # importing TensorFlow or building a Beam graph); expensive runs are built once (tests/shared_runs.py);
        # 3.8 for --no-loadscope-reorder (the longest files first, tests/conftest.py).
        "test": ["pytest>=8", "pytest-timeout>=2.3", "pytest-xdist>=3.8", "playwright>=1.45,<2"],
    },
)
