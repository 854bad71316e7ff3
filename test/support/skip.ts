/**
 * Why a lab test cannot run here (not root, no iproute2, the native addon not built), or
 * false when it can: the `skip` option of every lab test.
 */
import { labAvailable } from '../lab/netns.js';
import { native } from '../../src/native/index.js';
import { errorText } from '../../src/base/error-text.js';

export function labSkipReason(): string | false {
  const lab = labAvailable();
  if (!lab.ok) return lab.reason;
  try {
    native();
  } catch (e) {
    return errorText(e);
  }
  return false;
}
