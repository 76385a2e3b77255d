import { NAME_RULE, isName, VERSION_LABEL_PATTERN } from '@edgeloop/protocol';
import { ServerError } from '../errors.js';

/** Reads a path parameter that must be an app or model name; 400 naming it otherwise. */
export function nameParam(value: string | undefined, param: string): string {
  if (value === undefined || !isName(value)) {
    throw new ServerError('bad_request', `path parameter "${param}" must be ${NAME_RULE}; got ${JSON.stringify(value)}`);
  }
  return value;
}

export function versionParam(value: string | undefined): string {
  if (value === undefined || !VERSION_LABEL_PATTERN.test(value)) {
    throw new ServerError(
      'bad_request',
      `path parameter "version" must be 1–64 letters, digits, ".", "+", "_" or "-" (e.g. 5.0.0); got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function sha256Param(value: string | undefined): string {
  if (value === undefined || !/^[0-9a-f]{64}$/.test(value)) {
    throw new ServerError('bad_request', `artifact hash must be 64 lowercase hex digits; got ${JSON.stringify(value)}`);
  }
  return value;
}
