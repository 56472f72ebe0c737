// The registry of check types: adding a type is one module and one line here.
import type { CheckKind } from '../src/check.js';
import { http } from './http.js';
import { mqtt } from './mqtt.js';
import { postgres } from './postgres.js';
import { redis } from './redis.js';
import { tcp } from './tcp.js';

export const kinds: readonly CheckKind[] = [postgres, redis, http, tcp, mqtt];
