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


class CachedImage(Component):
    """A CachedImage component.
    An image shown from a dash-file-cache address: the browser streams it from the server, not through callback JSON. Use it instead of `html.Img` when the address may expire (evicted, removed or one-time items): it reports `status` (loading, loaded with the natural size, or error with the HTTP code found by a HEAD request) and shows `fallback` instead of a broken-image icon.

    Keyword arguments:

    - id (string; optional):
        The ID used to identify this component in Dash callbacks.

    - alt (string; default ''):
        Alternative text of the image, also shown when it fails and no
        `fallback` is given.

    - className (string; optional):
        CSS classes of the image, or of the fallback box when the image
        failed.

    - fallback (a list of or a singular dash component, string or number; optional):
        What to show instead of the image when it cannot be loaded (text
        or components).

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

    - src (string; optional):
        Address of the image, as returned by `ServiceData.register` (or
        any URL).

    - status (dict; optional):
        Read-only: `{state: \"loading\" | \"loaded\" | \"error\",
        http_code, natural_width, natural_height, src}` of the current
        `src`.

        `status` is a dict with keys:

        - state (a value equal to: 'loading', 'loaded', 'error'; optional):
            \"loading\", \"loaded\" or \"error\".

        - http_code (number; optional):
            HTTP status of the address (from a HEAD request on error), or
            None when unknown.

        - natural_width (number; optional):
            Natural width of the loaded image in pixels, else None.

        - natural_height (number; optional):
            Natural height of the loaded image in pixels, else None.

        - src (string; optional):
            The `src` this status is about.

    - title (string; optional):
        Tooltip text of the image (the `title` attribute)."""

    _children_props: typing.List[str] = ["fallback"]
    _base_nodes = ["fallback", "children"]
    _namespace = "dash_file_cache"
    _type = "CachedImage"
    Status = TypedDict(
        "Status",
        {
            "state": NotRequired[Literal["loading", "loaded", "error"]],
            "http_code": NotRequired[NumberType],
            "natural_width": NotRequired[NumberType],
            "natural_height": NotRequired[NumberType],
            "src": NotRequired[str],
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
        src: typing.Optional[str] = None,
        alt: typing.Optional[str] = None,
        title: typing.Optional[str] = None,
        className: typing.Optional[str] = None,
        style: typing.Optional[typing.Any] = None,
        fallback: typing.Optional[ComponentType] = None,
        status: typing.Optional["Status"] = None,
        loading_state: typing.Optional["LoadingState"] = None,
        **kwargs,
    ):
        self._prop_names = [
            "id",
            "alt",
            "className",
            "fallback",
            "loading_state",
            "src",
            "status",
            "style",
            "title",
        ]
        self._valid_wildcard_attributes = []
        self.available_properties = [
            "id",
            "alt",
            "className",
            "fallback",
            "loading_state",
            "src",
            "status",
            "style",
            "title",
        ]
        self.available_wildcard_properties = []
        _explicit_args = kwargs.pop("_explicit_args")
        _locals = locals()
        _locals.update(kwargs)  # For wildcard attrs and excess named props
        args = {k: _locals[k] for k in _explicit_args}

        super(CachedImage, self).__init__(**args)


setattr(CachedImage, "__init__", _explicitize_args(CachedImage.__init__))
