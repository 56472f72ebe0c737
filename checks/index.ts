// The registry of check types: adding a type is one module and one line here.
import type { CheckKind } from '../src/check.js';
import { amqp } from './amqp.js';
import { dns } from './dns.js';
import { grpc } from './grpc.js';
import { http } from './http.js';
import { mqtt } from './mqtt.js';
import { mysql } from './mysql.js';
import { nats } from './nats.js';
import { postgres } from './postgres.js';
import { redis } from './redis.js';
import { tcp } from './tcp.js';
import { tls } from './tls.js';

export const kinds: readonly CheckKind[] = [postgres, redis, http, tcp, mysql, amqp, nats, mqtt, dns, grpc, tls];
