/* Entry of the dash_file_cache bundle: `window.dash_file_cache.<Name>`. */
import CachedDownload from './CachedDownload.react.js';
import CachedImage from './CachedImage.react.js';

export {CachedDownload, CachedImage};
