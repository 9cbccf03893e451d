"""``push_to_hub``: publish a model folder to the Hugging Face Hub in one commit.

The repository is created when missing (``create_repo(exist_ok=True)``), a branch named by
``revision`` too, and every file goes up in a single ``create_commit``: a reader never sees a
half-uploaded model. Only the shareable files are sent (config.json, the networks' safetensors,
README.md, sample.png): never a checkpoint's optimiser state.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token

from ..errors import HubError, WeightsError
from ..serialization import CONFIG_NAME, read_config
from .card import README_NAME, SAMPLE_NAME
from .download import hub_errors
from .local import export_checkpoint, locate_model_folder, save_pretrained
from .reach import hub_unreachable

#: files of a checkpoint that are not part of a published model
TRAINING_FILES = ("training_state.safetensors", "trainer.json")


def require_token(token: str | None = None) -> str:
    """The token to push with: ``token``, else the logged-in one (HF_TOKEN or `hf auth login`)."""
    token = token or get_token()
    if not token:
        raise HubError(
            "pushing needs a Hugging Face token with write access: log in with `hf auth login` "
            "or set HF_TOKEN (tokens: https://huggingface.co/settings/tokens), or pass --token"
        )
    return token


def shareable_files(folder: Path) -> list[str]:
    """The files of a model folder that a published repo holds, checked to exist."""
    meta = read_config(folder)
    files = [CONFIG_NAME] + [f"{n}.safetensors" for n in meta.get("networks") or []]
    for name in files:
        if not (folder / name).is_file():
            raise WeightsError(f"{folder / name} is missing: the model folder is incomplete")
    return files + [f for f in (README_NAME, SAMPLE_NAME) if (folder / f).is_file()]


def upload_model_folder(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
) -> tuple[str, str]:
    """Upload a ``save_pretrained`` folder as one commit; (repo URL, commit id)."""
    from .. import __version__

    folder = Path(folder)
    files = shareable_files(folder)
    arch = read_config(folder)["arch"]
    api = HfApi(token=require_token(token), library_name="ganzoo", library_version=__version__)
    branch = revision if revision and revision != constants.DEFAULT_REVISION else None
    down = hub_unreachable()  # one quick attempt: the calls below could wait without end
    if down is not None:
        raise HubError(
            f"cannot reach the Hub at {constants.ENDPOINT} to push to {repo_id} ({down}): check "
            "the network or HF_ENDPOINT; the folder to push stays as it is"
        )
    with hub_errors(repo_id, revision, action="push to"):
        url = str(api.create_repo(repo_id, private=private, exist_ok=True))
        if branch:
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        info = api.create_commit(
            repo_id,
            operations=[CommitOperationAdd(f, str(folder / f)) for f in files],
            commit_message=commit_message or f"Upload {arch} weights with ganzoo",
            revision=revision,
        )
    return (f"{url}/tree/{branch}" if branch else url), str(info.oid)


def push_to_hub(
    model: Any,
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    include_discriminator: bool = True,
    **card: Any,
) -> str:
    """Save ``model`` with :func:`save_pretrained` to a temporary folder and upload it to
    ``repo_id`` in one commit (creating the repo, and the branch ``revision``, if needed).

    ``card`` takes save_pretrained's ``dataset``, ``license``, ``training``, ``metrics`` and
    ``step``. Returns the repo URL.
    """
    require_token(token)  # fail before the work of saving
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        save_pretrained(
            model, tmp, include_discriminator=include_discriminator, repo_id=repo_id, **card
        )
        url, _ = upload_model_folder(
            tmp,
            repo_id,
            private=private,
            revision=revision,
            token=token,
            commit_message=commit_message,
        )
    return url


def push_folder(
    source: str | Path,
    repo_id: str,
    *,
    step: int | None = None,
    include_discriminator: bool = True,
    private: bool | None = None,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    **card: Any,
) -> tuple[str, str]:
    """Publish a run (its newest checkpoint, or ``step``), a checkpoint or a saved model folder.

    A ``save_pretrained`` folder goes up as it is; anything else is exported first (model card,
    sample grid, no optimiser state). Returns (repo URL, commit id).
    """
    folder = locate_model_folder(source, step)  # a mistyped source first, then the token
    require_token(token)
    networks = read_config(folder).get("networks") or []
    as_is = (
        (folder / README_NAME).is_file()
        and not any((folder / f).exists() for f in TRAINING_FILES)
        and (include_discriminator or "discriminator" not in networks)
        and not card
    )
    options = dict(private=private, revision=revision, token=token, commit_message=commit_message)
    if as_is:
        return upload_model_folder(folder, repo_id, **options)
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        export_checkpoint(
            folder, tmp, include_discriminator=include_discriminator, repo_id=repo_id, **card
        )
        return upload_model_folder(tmp, repo_id, **options)
