"""Build the optional C walk kernel; without a compiler the package falls back to SciPy."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "coverage_planner.access._walkkernel",
            ["coverage/coverage_planner/access/_walkkernel.c"],
            optional=True,
            extra_compile_args=["-O3"],
        )
    ]
)
