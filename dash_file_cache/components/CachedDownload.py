# ruff: noqa
# AUTO GENERATED FILE - DO NOT EDIT

import typing  # noqa: F401
from typing_extensions import TypedDict, NotRequired, Literal  # noqa: F401
from dash.development.base_component import Component, _explicitize_args

try:
    from dash.types import NumberType  # noqa: F401
except ImportError:
    # Backwards compatibility for dash<=4.1.0
    if typing.TYPE_CHECKING:
        raise
    NumberType = typing.Union[  # noqa: F401
        typing.SupportsFloat, typing.SupportsInt, typing.SupportsComplex
    ]

ComponentSingleType = typing.Union[str, int, float, Component, None]
ComponentType = typing.Union[
    ComponentSingleType,
    typing.Sequence[ComponentSingleType],
]


class CachedDownload(Component):
    """A CachedDownload component.
    Saves a file from a dash-file-cache address when a callback sets `url`; renders nothing visible. Use it instead of `dcc.Download` for large or server-made files: in the default `mode="native"` the browser's download manager streams the file to disk (no copy in page memory), after a HEAD request has checked that the address is alive, so an expired address gives `status.state == "error"` (`http_code` 404) and saves nothing. `mode="fetch"` downloads in the page instead, to report progress (`loaded`/`total`) and send custom `headers`, at the cost of holding the whole file in memory. Every download is triggered by a new value of `url`: the component consumes the address (resets `url` to None once the download is handed over or failed), so setting the same address again downloads it again.

    Keyword arguments:

    - id (string; optional):
        The ID used to identify this component in Dash callbacks.

    - className (string; optional):
        CSS classes of the (empty, hidden) root element.

    - file_name (string; optional):
        Name for the saved file; by default the name the server gives (in
        \"native\" mode the server's `Content-Disposition` name wins when
        it has one).

    - headers (dict with strings as keys and values of type string; optional):
        Extra request headers sent in \"fetch\" mode (ignored in
        \"native\" mode, where the browser makes the request).

    - loading_state (dict; optional):
        Object that holds the loading state object coming from
        dash-renderer (Dash 2).

        `loading_state` is a dict with keys:

        - is_loading (boolean; optional):
            Determines if the component is loading or not.

        - prop_name (string; optional):
            Holds which property is loading.

        - component_name (string; optional):
            Holds the name of the component that is loading.

    - mode (a value equal to: 'native', 'fetch'; default 'native'):
        \"native\": the browser's download manager streams to disk;
        \"fetch\": download in the page, with progress and custom headers,
        holding the whole file in memory.

    - n_downloads (number; default 0):
        Read-only: number of downloads completed (\"done\") since the
        component was created.

    - progress_interval (number; default 250):
        Minimum milliseconds between two progress reports in \"fetch\"
        mode.

    - status (dict; optional):
        Read-only: `{state: \"started\" | \"done\" | \"error\", http_code,
        file_name, loaded, total, mode, url, message}` of the latest
        download.

        `status` is a dict with keys:

        - state (a value equal to: 'started', 'done', 'error'; optional):
            \"started\", \"done\" or \"error\".

        - http_code (number; optional):
            HTTP status of the check (native) or of the download (fetch);
            None before an answer or on a network failure.

        - file_name (string; optional):
            Name of the file being saved.

        - loaded (number; optional):
            Bytes received so far (\"fetch\" mode), else None.

        - total (number; optional):
            Size of the file from `Content-Length`, else None.

        - mode (a value equal to: 'native', 'fetch'; optional):
            The mode of this download: \"native\" or \"fetch\".

        - url (string; optional):
            The address this status is about.

        - message (string; optional):
            Error text (the server's JSON `error` when there is one), else
            None.

    - url (string; optional):
        Address to download, as returned by `ServiceData.register`
        (download flag or not); each new value starts one download, then
        it is reset to None."""

    _children_props: typing.List[str] = []
    _base_nodes = ["children"]
    _namespace = "dash_file_cache"
    _type = "CachedDownload"
    Status = TypedDict(
        "Status",
        {
            "state": NotRequired[Literal["started", "done", "error"]],
            "http_code": NotRequired[NumberType],
            "file_name": NotRequired[str],
            "loaded": NotRequired[NumberType],
            "total": NotRequired[NumberType],
            "mode": NotRequired[Literal["native", "fetch"]],
            "url": NotRequired[str],
            "message": NotRequired[str],
        },
    )

    LoadingState = TypedDict(
        "LoadingState",
        {
            "is_loading": NotRequired[bool],
            "prop_name": NotRequired[str],
            "component_name": NotRequired[str],
        },
    )

    def __init__(
        self,
        id: typing.Optional[typing.Union[str, dict]] = None,
        url: typing.Optional[str] = None,
        file_name: typing.Optional[str] = None,
        mode: typing.Optional[Literal["native", "fetch"]] = None,
        headers: typing.Optional[typing.Dict[typing.Union[str, float, int], str]] = None,
        progress_interval: typing.Optional[NumberType] = None,
        status: typing.Optional["Status"] = None,
        n_downloads: typing.Optional[NumberType] = None,
        style: typing.Optional[typing.Any] = None,
        className: typing.Optional[str] = None,
        loading_state: typing.Optional["LoadingState"] = None,
        **kwargs,
    ):
        self._prop_names = [
            "id",
            "className",
            "file_name",
            "headers",
            "loading_state",
            "mode",
            "n_downloads",
            "progress_interval",
            "status",
            "style",
            "url",
        ]
        self._valid_wildcard_attributes = []
        self.available_properties = [
            "id",
            "className",
            "file_name",
            "headers",
            "loading_state",
            "mode",
            "n_downloads",
            "progress_interval",
            "status",
            "style",
            "url",
        ]
        self.available_wildcard_properties = []
        _explicit_args = kwargs.pop("_explicit_args")
        _locals = locals()
        _locals.update(kwargs)  # For wildcard attrs and excess named props
        args = {k: _locals[k] for k in _explicit_args}

        super(CachedDownload, self).__init__(**args)


setattr(CachedDownload, "__init__", _explicitize_args(CachedDownload.__init__))
