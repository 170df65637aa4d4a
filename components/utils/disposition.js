/*
 * The file name a server gives a download in `Content-Disposition`
 * (RFC 6266), parsed by the `content-disposition` package.
 */
import {parse as parseContentDisposition} from 'content-disposition';

/**
 * The file name in a `Content-Disposition` header value, or null.
 *
 * RFC 6266: a decodable `filename*` (RFC 8187/5987 ext-value) wins over
 * `filename`, whatever their order; an undecodable one is ignored.
 */
export function fileNameFromDisposition(header) {
    if (typeof header !== 'string' || !header) {
        return null;
    }
    const {parameters} = parseContentDisposition(header);
    const name = parameters.filename;
    return typeof name === 'string' && name ? name : null;
}
