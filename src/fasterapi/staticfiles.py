"""`StaticFiles`: serve a directory (or packages' `statics/` folders) under a mount point.

    app.mount("/static", StaticFiles(directory="static"), name="static")

A mounted app is called with a `Request` whose `path_params["path"]` is the path below the mount
point. Paths are resolved inside the served directories only: `..` segments, absolute paths and
(unless `follow_symlink=True`) symlinks leading outside are answered 404. Responses carry
`ETag` and `Last-Modified`, and conditional GETs get 304 Not Modified.
"""

from __future__ import annotations

import importlib.util
import os
import stat
from email.utils import parsedate_to_datetime
from typing import Any

from .exceptions import HTTPException
from .requests import Request
from .responses import FileResponse, RedirectResponse, Response

PathLike = str | os.PathLike[str]


class NotModifiedResponse(Response):
    """304: the validators of the full response, no body."""

    def __init__(self, headers: Any) -> None:
        kept = {k: v for k, v in headers.items() if k.lower() in ("cache-control", "content-location", "date",
                                                                  "etag", "expires", "vary")}
        super().__init__(status_code=304, headers=kept)


class StaticFiles:
    def __init__(
        self,
        *,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
    ) -> None:
        self.directory = directory
        self.packages = packages
        self.all_directories = self.get_directories(directory, packages)
        self.html = html
        self.config_checked = False
        self.follow_symlink = follow_symlink
        if check_dir and directory is not None and not os.path.isdir(directory):
            raise RuntimeError(f"Directory '{directory}' does not exist")

    def get_directories(
        self, directory: PathLike | None = None, packages: list[str | tuple[str, str]] | None = None
    ) -> list[PathLike]:
        directories: list[PathLike] = []
        if directory is not None:
            directories.append(directory)
        for package in packages or []:
            name, statics = package if isinstance(package, tuple) else (package, "statics")
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                raise AssertionError(f"Package {name!r} could not be found.")
            package_dir = os.path.normpath(os.path.join(os.path.dirname(spec.origin), statics))
            if not os.path.isdir(package_dir):
                raise AssertionError(f"Directory '{statics!r}' in package {name!r} could not be found.")
            directories.append(package_dir)
        return directories

    # ------------------------------------------------------------------------------ lookup

    def _check_config(self) -> None:
        # Checked on first request, like Starlette, so a directory created after start-up works.
        if self.config_checked or self.directory is None:
            self.config_checked = True
            return
        try:
            st = os.stat(self.directory)
        except FileNotFoundError:
            raise RuntimeError(f"StaticFiles directory '{self.directory}' does not exist.") from None
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            raise RuntimeError(f"StaticFiles path '{self.directory}' is not a directory.")
        self.config_checked = True

    def get_path(self, request: Request) -> str:
        path = request.path_params.get("path") or request.scope.get("path", "/")
        # Normalise to a relative OS path; "." and ".." are resolved textually first.
        return os.path.normpath(os.path.join(*path.split("/")))

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path.startswith("..") or os.path.isabs(path):
            return "", None
        for directory in self.all_directories:
            root = os.path.realpath(directory)
            joined = os.path.join(root, path)
            full_path = os.path.abspath(joined) if self.follow_symlink else os.path.realpath(joined)
            if os.path.commonpath([full_path, root]) != root:
                continue  # escaped the directory (a symlink pointing outside)
            try:
                return full_path, os.stat(full_path)
            except (FileNotFoundError, NotADirectoryError, PermissionError, OSError):
                continue
        return "", None

    # ------------------------------------------------------------------------------ serving

    def __call__(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise HTTPException(status_code=405)
        self._check_config()
        return self.get_response(self.get_path(request), request)

    def get_response(self, path: str, request: Request) -> Response:
        full_path, stat_result = self.lookup_path(path)
        if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
            return self.file_response(full_path, stat_result, request)
        if stat_result is not None and stat.S_ISDIR(stat_result.st_mode) and self.html:
            index_path, index_stat = self.lookup_path(os.path.join(path, "index.html"))
            if index_stat is not None and stat.S_ISREG(index_stat.st_mode):
                url_path = request.url.path
                if not url_path.endswith("/"):
                    # A directory URL must end in "/" so the page's relative links resolve.
                    return RedirectResponse(url=str(request.url.replace(path=url_path + "/")))
                return self.file_response(index_path, index_stat, request)
        if self.html:
            not_found_path, not_found_stat = self.lookup_path("404.html")
            if not_found_stat is not None and stat.S_ISREG(not_found_stat.st_mode):
                return FileResponse(not_found_path, stat_result=not_found_stat, status_code=404, method=request.method)
        raise HTTPException(status_code=404)

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, request: Request, status_code: int = 200
    ) -> Response:
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result, method=request.method)
        if self.is_not_modified(response.headers, request.headers):
            return NotModifiedResponse(response.headers)
        return response

    def is_not_modified(self, response_headers: Any, request_headers: Any) -> bool:
        """RFC 9110 §13.1: If-None-Match takes precedence over If-Modified-Since."""
        if_none_match = request_headers.get("if-none-match")
        etag = response_headers.get("etag")
        if if_none_match is not None:
            if etag is None:
                return False
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return "*" in tags or etag.removeprefix("W/") in tags
        if_modified_since = request_headers.get("if-modified-since")
        last_modified = response_headers.get("last-modified")
        if if_modified_since and last_modified:
            try:
                return parsedate_to_datetime(if_modified_since) >= parsedate_to_datetime(last_modified)
            except (TypeError, ValueError):
                return False
        return False
