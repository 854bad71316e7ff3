/** `npm run bench`: prints every benchmark's figures. */
import { runCoreBench } from './vrrp-core.js';

runCoreBench();
