/* Entry of the dash_file_cache bundle: `window.dash_file_cache.<Name>`. */
import CachedDownload from './CachedDownload.react.js';
import CachedImage from './CachedImage.react.js';
import CachedUpload from './CachedUpload.react.js';
import Downloader from './Downloader.react.js';
import PlainDownloader from './PlainDownloader.react.js';

export {CachedDownload, CachedImage, CachedUpload, Downloader, PlainDownloader};
