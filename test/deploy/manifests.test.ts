// k8s/ and compose.yaml, checked offline: rendered by kubectl kustomize and docker-compose, every
// object validated against the Kubernetes API schemas, the embedded vigil config validated by the
// built CLI, and every probe's port and path answered by a real agent running that config.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, serve } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: any };
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

function kustomize(dir: string): Obj[] {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  expect(result.error, 'kubectl must be installed').toBeUndefined();
  expect(result.status, result.stderr).toBe(0);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as Obj);
}

/** A variant with the Prometheus Operator's component added, as the docs tell users to. */
function withOperator(dir: string): Obj[] {
  const root = mkdtempSync(join(tmpdir(), 'vigil-kustomize-'));
  writeFileSync(
    join(root, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${relative(root, dir)}\ncomponents:\n  - ${relative(root, 'k8s/components/prometheus-operator')}\n`,
  );
  return kustomize(root);
}

const variants = {
  native: kustomize('k8s'),
  classic: kustomize('k8s/overlays/classic-sidecar'),
  'native with the Prometheus Operator': withOperator('k8s'),
  'classic with the Prometheus Operator': withOperator('k8s/overlays/classic-sidecar'),
};
const hasOperator = (objects: Obj[]) => objects.some((o) => o.kind === 'PodMonitor');
const find = (objects: Obj[], kind: string) => objects.find((o) => o.kind === kind)!;
const podSpec = (objects: Obj[]) => find(objects, 'Deployment').spec.template.spec;
const vigilOf = (spec: any) => [...(spec.initContainers ?? []), ...spec.containers].find((c: any) => c.name === 'vigil');
const appOf = (spec: any) => spec.containers.find((c: any) => c.name !== 'vigil');

/** The config from the ConfigMap, with the Secret's files where the Deployment mounts them. */
function configFromManifests(objects: Obj[]) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-'));
  const path = join(dir, 'vigil.yaml');
  writeFileSync(path, find(objects, 'ConfigMap').data['vigil.yaml']);
  const secret = find(objects, 'Secret');
  const vigil = vigilOf(podSpec(objects));
  const mount = vigil.volumeMounts.find((m: any) => podSpec(objects).volumes.find((v: any) => v.name === m.name).secret).mountPath;
  const env: Record<string, string> = {};
  for (const { name, value } of vigil.env) {
    const key = value.slice(mount.length + 1);
    expect(value.startsWith(`${mount}/`), `${name} points into the secret mount`).toBe(true);
    expect(Object.keys(secret.stringData), `the Secret has ${key}`).toContain(key);
    writeFileSync(join(dir, key), `${secret.stringData[key]}\n`);
    env[name] = join(dir, key);
  }
  return { path, env };
}

describe.each(Object.entries(variants))('k8s (%s sidecar)', (variant, objects) => {
  it('renders objects that validate against the Kubernetes API schemas', () => {
    // Without the operator's CRDs, objects of its kinds would fail the apply: they come with its component only.
    const operator = variant.includes('Prometheus Operator') ? ['PodMonitor', 'PrometheusRule'] : [];
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', ...operator, 'Secret', 'Service'].sort());
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new Model!(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
  });

  it('places vigil as the variant requires, with the probes wired to its endpoints', () => {
    const spec = podSpec(objects);
    const vigil = vigilOf(spec);
    if (variant.startsWith('native')) {
      expect(spec.initContainers).toEqual([vigil]);
      expect(vigil.restartPolicy).toBe('Always');
    } else {
      expect(spec.initContainers).toBeUndefined();
      expect(spec.containers.map((c: any) => c.name)).toEqual(['orders', 'vigil']);
      expect(vigil.restartPolicy).toBeUndefined();
    }
    expect(vigil.startupProbe.httpGet.path).toBe('/health/startup');
    expect(vigil.livenessProbe.httpGet.path).toBe('/health/live');
    expect(appOf(spec).readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 9898 });
  });

  it('runs vigil with a restricted security context, resources and its secrets as files', () => {
    const spec = podSpec(objects);
    const vigil = vigilOf(spec);
    expect(vigil.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(Object.keys(vigil.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(vigil.resources.limits).sort()).toEqual(['cpu', 'memory']);
    expect(vigil.env.every((e: any) => e.name.endsWith('_FILE') && e.value.startsWith('/run/secrets/'))).toBe(true);
  });

  it('exposes metrics per pod through the PodMonitor on vigil\'s named port, not through the Service', () => {
    const portName = vigilOf(podSpec(objects)).ports[0].name;
    // A Service would hand each scrape to one pod at random (and resolves a native sidecar's named
    // port only from Kubernetes 1.32).
    expect(find(objects, 'Service').spec.ports.map((p: any) => p.targetPort)).not.toContain(portName);
    if (!hasOperator(objects)) return;
    expect(find(objects, 'PodMonitor').spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: portName, path: '/metrics' })]);
    const selector = find(objects, 'PodMonitor').spec.selector.matchLabels;
    expect(find(objects, 'Deployment').spec.template.metadata.labels).toMatchObject(selector);
  });

  it('embeds a config that passes vigil validate, listening where the probes point', async () => {
    const { path, env } = configFromManifests(objects);
    const run = await runCli(['validate', '--config', path], env);
    expect(run.code, run.stderr).toBe(0);
    const containerPort = vigilOf(podSpec(objects)).ports[0].containerPort;
    expect((parseYaml(readFileSync(path, 'utf8')) as any).server.port).toBe(containerPort);
  });

  it('the secret files can be read by the user vigil runs as, owned and moded as the kubelet mounts them', () => {
    // The kubelet mounts a Secret's files as root, with the volume's defaultMode, in the group
    // fsGroup when the pod sets one (which it also adds to the container's groups); ConfigMap files
    // are 0644. vigil reads them as runAsUser/runAsGroup: without fsGroup a 0440 file is unreadable.
    const spec = podSpec(objects);
    const vigil = vigilOf(spec);
    const context = { ...spec.securityContext, ...vigil.securityContext };
    const volume = spec.volumes.find((v: any) => v.secret);
    const mode: number = volume.secret.defaultMode ?? 0o644;
    const { path, env } = configFromManifests(objects);
    chmodSync(dirname(path), 0o755);
    chmodSync(path, 0o644);
    for (const file of Object.values(env)) {
      chownSync(file, 0, context.fsGroup ?? 0);
      chmodSync(file, mode);
    }
    const groups = context.fsGroup === undefined ? ['--clear-groups'] : ['--groups', String(context.fsGroup)];
    const run = spawnSync('setpriv', ['--reuid', String(context.runAsUser), '--regid', String(context.runAsGroup), ...groups, process.execPath, CLI, 'validate', '--config', path], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...env },
    });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
  });

  it('answers every probe path with the agent as configured (never 404)', async () => {
    const { path, env } = configFromManifests(objects);
    const agent = await serve(['--config', path], await freePort(), env);
    try {
      const spec = podSpec(objects);
      const probes = [vigilOf(spec).startupProbe, vigilOf(spec).livenessProbe, appOf(spec).readinessProbe];
      for (const probe of probes) {
        const res = await fetch(`${agent.url}${probe.httpGet.path}`);
        expect([200, 503], probe.httpGet.path).toContain(res.status);
        expect(res.headers.get('content-type')).toBe('application/health+json');
      }
      if (hasOperator(objects)) expect((await fetch(`${agent.url}${find(objects, 'PodMonitor').spec.podMetricsEndpoints[0].path}`)).status).toBe(200);
    } finally {
      agent.kill();
    }
  });
});

describe('compose.yaml', () => {
  const rendered = spawnSync('docker-compose', ['-f', 'compose.yaml', 'config'], { encoding: 'utf8' });

  it('is accepted by docker-compose config', () => {
    expect(rendered.error, 'docker-compose (Debian package docker-compose) must be installed').toBeUndefined();
    expect(rendered.status, rendered.stderr).toBe(0);
  });

  it('gates the app on vigil\'s health, probed through vigil probe, with passwords as compose secrets', () => {
    const compose = parseYaml(rendered.stdout) as any;
    expect(compose.services.app.depends_on).toEqual({ vigil: { condition: 'service_healthy' } });
    const vigil = compose.services.vigil;
    expect(vigil.healthcheck.test.slice(0, 4)).toEqual(['CMD', 'node', '/app/dist/src/cli.js', 'probe']);
    expect(vigil.secrets.map((s: any) => s.source).sort()).toEqual(['pg_password', 'redis_password']);
    expect(Object.keys(vigil.environment).every((k) => k.endsWith('_FILE'))).toBe(true);
    expect(compose.services.postgres.environment.POSTGRES_PASSWORD_FILE).toBe('/run/secrets/pg_password');
  });

  it('mounts a config that passes vigil validate with those secrets', async () => {
    const compose = parseYaml(rendered.stdout) as any;
    const vigil = compose.services.vigil;
    const mount = vigil.volumes.find((v: any) => (typeof v === 'string' ? v : v.target).includes('/etc/vigil'));
    const source = typeof mount === 'string' ? mount.split(':')[0] : mount.source;
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(vigil.environment as Record<string, string>)) {
      const secret = value.replace('/run/secrets/', '');
      env[name] = compose.secrets[secret].file;
    }
    const run = await runCli(['validate', '--config', source], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('2 checks');
  });
});
