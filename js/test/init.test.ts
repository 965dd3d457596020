import { describe, expect, it, vi } from 'vitest';
import type { Tracewire, TracewireConfig } from '../wasm/tracewire_sdk.js';
import { createInitializer, splitConfig, type SdkModule } from '../src/init.js';

// The only test double in the package: the wasm loader boundary. The real wasm is loaded in
// headless Chromium by test/browser.test.mjs.
// `features` adds the methods a build with those SDK cargo features has (to the client's
// prototype, where wasm-bindgen puts them).
function fakeModule(features: string[] = []) {
  const started: TracewireConfig[] = [];
  const calls: string[] = [];
  const methods: Record<string, () => number> = {
    instrumentFetch: () => calls.push('instrumentFetch'),
    instrumentWebSockets: () => calls.push('instrumentWebSockets'),
  };
  if (features.includes('xhr')) methods.instrumentXhr = () => calls.push('instrumentXhr');
  if (features.includes('eventsource')) methods.instrumentEventSource = () => calls.push('instrumentEventSource');
  const client = Object.create(methods) as Tracewire;
  const module = {
    Tracewire: {
      prototype: methods,
      start(config: TracewireConfig) {
        started.push(config);
        return client;
      },
    },
    TracedWebSocket: class {},
  } as unknown as SdkModule;
  return { module, started, calls, client };
}

const config = { endpoint: 'http://collector', serviceName: 'web' };

describe('init', () => {
  it('loads the wasm once and returns the same client to every caller', async () => {
    const fake = fakeModule();
    const load = vi.fn(async () => fake.module);
    const page = createInitializer(load);
    const [a, b] = await Promise.all([page.init(config), page.init({ ...config, serviceName: 'other' })]);
    const c = await page.init(config);
    expect(load).toHaveBeenCalledTimes(1);
    expect(fake.started).toEqual([config]);
    expect(a).toBe(fake.client);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(page.current()).toBe(a);
    expect(page.module()).toBe(fake.module);
  });

  it('has no client before init resolves', () => {
    const page = createInitializer(async () => fakeModule().module);
    expect(page.current()).toBeNull();
    expect(page.pending()).toBeNull();
    expect(page.module()).toBeNull();
  });

  it('tries again after a failed start', async () => {
    const fake = fakeModule();
    const load = vi
      .fn<() => Promise<SdkModule>>()
      .mockRejectedValueOnce(new Error('wasm blocked'))
      .mockResolvedValue(fake.module);
    const page = createInitializer(load);
    await expect(page.init(config)).rejects.toThrow('wasm blocked');
    await Promise.resolve();
    expect(page.pending()).toBeNull();
    await expect(page.init(config)).resolves.toBe(fake.client);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('instruments fetch by default and WebSockets only when asked', async () => {
    const first = fakeModule();
    await createInitializer(async () => first.module).init(config);
    expect(first.calls).toEqual(['instrumentFetch']);

    const second = fakeModule();
    await createInitializer(async () => second.module).init({
      ...config,
      instrumentFetch: false,
      instrumentWebSockets: true,
    });
    expect(second.calls).toEqual(['instrumentWebSockets']);
    expect(second.started).toEqual([config]);
  });

  it('instruments XHR and EventSource when asked and the build has them', async () => {
    const fake = fakeModule(['xhr', 'eventsource']);
    await createInitializer(async () => fake.module).init({
      ...config,
      instrumentXhr: true,
      instrumentEventSource: true,
    });
    expect(fake.calls).toEqual(['instrumentFetch', 'instrumentXhr', 'instrumentEventSource']);
    expect(fake.started).toEqual([config]);

    const off = fakeModule(['xhr', 'eventsource']);
    await createInitializer(async () => off.module).init({ ...config, instrumentXhr: false });
    expect(off.calls).toEqual(['instrumentFetch']);
  });

  it('rejects before starting when the build lacks an asked-for instrumentation', async () => {
    const fake = fakeModule(['eventsource']);
    const page = createInitializer(async () => fake.module);
    await expect(page.init({ ...config, instrumentXhr: true })).rejects.toThrow(
      /instrumentXhr needs the SDK's `xhr` cargo feature \(TRACEWIRE_SDK_FEATURES=xhr\)/,
    );
    expect(fake.started).toEqual([]);
    expect(fake.calls).toEqual([]);
    await expect(page.init({ ...config, instrumentEventSource: true })).resolves.toBe(fake.client);
    expect(fake.calls).toEqual(['instrumentFetch', 'instrumentEventSource']);
  });
});

describe('splitConfig', () => {
  it('passes payloadFreeUrls through to the SDK', () => {
    const { sdk } = splitConfig({ ...config, payloadFreeUrls: ['wss://*/market'], instrumentWebSockets: true });
    expect(sdk).toEqual({ ...config, payloadFreeUrls: ['wss://*/market'] });
  });

  it('keeps the package options out of the SDK configuration', () => {
    const { sdk, options } = splitConfig({ ...config, sampleRate: 0.5, instrumentFetch: false });
    expect(sdk).toEqual({ ...config, sampleRate: 0.5 });
    expect(options).toEqual({ instrumentFetch: false });
  });
});
