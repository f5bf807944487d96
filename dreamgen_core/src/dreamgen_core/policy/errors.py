"""Errors of the policy stage (train, load, export, run); each message names the file, key or value to change."""

from __future__ import annotations


class PolicyError(RuntimeError):
    """A policy job cannot go on: a bad mix or dataset set, a checkpoint that does not load, a run that does not match."""


class ResumeMismatch(PolicyError):
    """A run directory holds a checkpoint trained with another configuration or on other datasets."""


class ManifestError(PolicyError):
    """An exported policy's policy.yaml does not hold together: wrong embodiment hash, missing stats, a shape or
    ONNX file that disagrees with it."""


class ExportError(PolicyError):
    """An export failed its verification (ONNX Runtime vs torch beyond the bound) or was asked for the impossible."""


class EngineCacheError(PolicyError):
    """A TensorRT engine cache entry is missing, damaged, or was built for another key (ONNX, TensorRT, GPU, precision)."""
