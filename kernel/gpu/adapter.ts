// Adapter selection: a real GPU when one exists; else the SwiftShader Vulkan ICD (a CPU implementation of
// Vulkan that Debian's chromium ships) with a visible notice; else an error saying what to install.
import fs from 'node:fs';
import os from 'node:os';
import { create, globals } from 'webgpu';
import { NoAdapterError } from '../errors.js';

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
];

export interface AdapterChoice {
  adapter: GPUAdapter;
  /** Keep referenced for the life of the process: if dawn-node's GPU object is collected while a device lives,
   *  mapAsync / onSubmittedWorkDone crash the process. */
  gpu: GPU;
  software: boolean;
  /** Storage accesses are bounds-checked (see robustAccess). */
  robustAccess: boolean;
  /** One line for the user when we fell back to a CPU implementation. */
  notice?: string;
}

/**
 * Whether storage accesses are bounds-checked. Robustness (bounds clamping of every storage access, by Tint and by
 * the Vulkan driver) is there to contain untrusted web shaders; llmnb runs only its own generated kernels, whose
 * indices are clamped or guarded where a tile overhangs a tensor (audited for exactly this) and which are tested on
 * shapes that are not tile multiples. Without it a gathered load costs about 40% less on SwiftShader (the matmuls
 * gain about 10%, memory-bound kernels such as AdamW 1.8x). Native Dawn ML runtimes (ONNX Runtime's WebGPU
 * provider) turn it off for the same reason.
 * `LLMNB_GPU_ROBUSTNESS=on` restores it, to rule out an out-of-bounds access when a kernel misbehaves.
 */
export function robustAccess(): boolean {
  return process.env.LLMNB_GPU_ROBUSTNESS === 'on';
}

let installedGlobals = false;
const keepAlive: GPU[] = [];

function instance(robust: boolean): GPU {
  if (!installedGlobals) {
    // GPUBufferUsage, GPUMapMode, ... as globals, as in a browser.
    Object.assign(globalThis, globals);
    installedGlobals = true;
  }
  const gpu = create(robust ? [] : ['enable-dawn-features=disable_robustness']) as GPU;
  keepAlive.push(gpu);
  return gpu;
}

function isSoftware(info: GPUAdapterInfo): boolean {
  if ((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter) return true;
  const text = `${info.vendor} ${info.architecture} ${info.description}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|warp|software/.test(text);
}

/**
 * Finds an adapter. `forceSoftware` skips real GPUs (tests use it for reproducible numerics).
 * Throws NoAdapterError with installation advice when nothing is found.
 */
export async function chooseAdapter(opts: { forceSoftware?: boolean } = {}): Promise<AdapterChoice> {
  // The Vulkan loader complains on stderr without a runtime dir; any writable directory will do.
  if (!process.env.XDG_RUNTIME_DIR || !fs.existsSync(process.env.XDG_RUNTIME_DIR)) process.env.XDG_RUNTIME_DIR = os.tmpdir();
  const robust = robustAccess();
  if (!opts.forceSoftware) {
    const gpu = instance(robust);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter && !isSoftware(adapter.info)) return { adapter, gpu, software: false, robustAccess: robust };
    if (adapter) return { adapter, gpu, software: true, robustAccess: robust, notice: `using software adapter ${describeAdapter(adapter.info)}` };
  }
  const icd = process.env.VK_ICD_FILENAMES && fs.existsSync(process.env.VK_ICD_FILENAMES)
    ? process.env.VK_ICD_FILENAMES
    : SWIFTSHADER_ICDS.find((p) => fs.existsSync(p));
  if (icd) {
    // The Vulkan loader reads these when an instance is created, so a fresh instance sees them.
    process.env.VK_ICD_FILENAMES = icd;
    const adapter = await instance(robust).requestAdapter();
    if (adapter) {
      return {
        adapter, gpu: keepAlive[keepAlive.length - 1], software: true, robustAccess: robust,
        notice: `no GPU adapter found; using SwiftShader (CPU) from ${icd}: expect CPU speed`,
      };
    }
  }
  throw new NoAdapterError(
    'no WebGPU adapter: no GPU driver with Vulkan, Metal or D3D12 was found, and no SwiftShader fallback',
    process.platform === 'linux'
      ? 'Install your GPU\'s Vulkan driver, or for CPU-only use: sudo apt-get install libvulkan1 chromium (provides SwiftShader).'
      : 'Update your GPU driver so that it supports Vulkan, Metal or D3D12.',
  );
}

/** Dawn's default backend per platform (adapter info does not report it). */
export function backendName(): string {
  return process.platform === 'darwin' ? 'Metal' : process.platform === 'win32' ? 'D3D12' : 'Vulkan';
}

export function describeAdapter(info: GPUAdapterInfo): string {
  const parts = [info.vendor, info.architecture].filter(Boolean).join(' / ');
  return info.description ? `${parts} (${info.description})` : parts;
}
