/* Entry of the dash_file_cache bundle: `window.dash_file_cache.<Name>`. */
import CachedDownload from './CachedDownload.react';
import CachedImage from './CachedImage.react';

export {CachedDownload, CachedImage};
