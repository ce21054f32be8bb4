// How a saved classifier head is described, so that loading a saved folder recreates it: the tensors
// (`out_head.weight` [C, D], optional `out_head.bias` [C]) fix the shape; the class names travel in the
// safetensors `__metadata__` (key `llmnb_head`, a JSON string) and in config.json (`llmnb_head` object),
// both {classes, labels, bias}. config.json wins when both are present; without either the labels are 0..C-1.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointFormatError, ConfigError, ShapeMismatchError } from '../errors.js';
import { fmtShape } from '../gpu/tensor.js';
import type { Checkpoint } from '../io/checkpoint.js';
import { canonicalName } from '../io/names.js';
import type { LlamaConfig } from './config.js';
import type { HeadInfo } from './llama.js';

export const HEAD_METADATA_KEY = 'llmnb_head';

export interface ClassifierHead {
  classes: number;
  labels: string[];
  bias: boolean;
}

/** The `llmnb_head` value written for a classifier head (null for a language-model head). */
export function headDeclaration(head: HeadInfo): ClassifierHead | null {
  return head.kind === 'classifier' ? { classes: head.classes, labels: [...head.labels], bias: head.bias } : null;
}

/**
 * The classifier head a checkpoint holds, or null when it holds a language-model head (or none). `configFile`
 * is the config.json next to it, if any. A from-scratch `out_head.weight` of [vocab, D] without a declaration is
 * the LM head (LLMs-from-scratch names the LM head out_head too).
 */
export function savedClassifierHead(ckpt: Checkpoint, config: LlamaConfig, configFile: string | null): ClassifierHead | null {
  const entries = [...ckpt.tensors.values()];
  const weight = entries.find((e) => canonicalName(e.name) === 'out_head.weight');
  if (!weight) return null;
  const declared = (configFile ? declarationInConfig(configFile) : null) ?? declarationInMetadata(ckpt);
  if (!declared && weight.shape[0] === config.vocabSize) return null;
  if (weight.shape.length !== 2 || weight.shape[1] !== config.hiddenSize || weight.shape[0] < 1) {
    throw new ShapeMismatchError(`${ckpt.path}: classification head ${weight.name} ${fmtShape(weight.shape)} does not fit the model's width ${config.hiddenSize} ([classes, ${config.hiddenSize}] expected)`,
      'Check that the checkpoint was saved from a model with this config.');
  }
  const classes = weight.shape[0];
  const bias = entries.some((e) => canonicalName(e.name) === 'out_head.bias');
  if (declared && (declared.classes !== classes || declared.bias !== bias)) {
    throw new CheckpointFormatError(ckpt.path, `llmnb_head declares ${declared.classes} classes${declared.bias ? ' with' : ' without'} bias, but the tensors hold ${classes}${bias ? ' with' : ' without'} bias`,
      undefined, 'Save the model again with %save, or fix llmnb_head in config.json.');
  }
  return { classes, bias, labels: declared?.labels ?? Array.from({ length: classes }, (_, i) => String(i)) };
}

function declarationInMetadata(ckpt: Checkpoint): ClassifierHead | null {
  const text = ckpt.metadata[HEAD_METADATA_KEY];
  if (text === undefined) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CheckpointFormatError(ckpt.path, `__metadata__.${HEAD_METADATA_KEY} is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  const head = parseDeclaration(json);
  if (!head) throw new CheckpointFormatError(ckpt.path, `__metadata__.${HEAD_METADATA_KEY} must be {"classes", "labels", "bias"}, got ${text.slice(0, 120)}`);
  return head;
}

function declarationInConfig(configFile: string): ClassifierHead | null {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch {
    return null; // readConfigFile already reported an unreadable config
  }
  const value = (json as Record<string, unknown> | null)?.[HEAD_METADATA_KEY];
  if (value === undefined || value === null) return null;
  const head = parseDeclaration(value);
  if (!head) {
    throw new ConfigError(`${configFile}: ${HEAD_METADATA_KEY} must be {"classes": N, "labels": [N names], "bias": true|false}`,
      `Fix or remove ${HEAD_METADATA_KEY} in ${path.basename(configFile)}.`);
  }
  return head;
}

function parseDeclaration(v: unknown): ClassifierHead | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  const { classes, labels, bias } = o;
  if (!Number.isInteger(classes) || (classes as number) < 1 || typeof bias !== 'boolean') return null;
  if (!Array.isArray(labels) || labels.length !== classes || !labels.every((l) => typeof l === 'string')) return null;
  if (new Set(labels).size !== labels.length) return null;
  return { classes: classes as number, labels: labels as string[], bias };
}
