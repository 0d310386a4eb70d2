/** The result types of the one validator (see validateWorkspace.ts). */
import type { PromptDiagnostic } from '../model/diagnostics.js';
import type { PromptTestFileModel } from '../model/testTypes.js';
import type { CompositionRulesModel, ServiceMappingsModel } from '../model/types.js';
import type { TemplateAnalysis } from '../templates/analysis.js';
import type { FileSystemHost } from '../workspace/fileSystem.js';
import type { LineIndex } from '../text/lineIndex.js';

export interface TemplateEntry {
  /** `analysis/summary` for `templates/analysis/summary.hbs`. */
  name: string;
  /** Absolute path of the template file. */
  file: string;
  text: string;
  analysis: TemplateAnalysis;
  /** Changes whenever the text changes: a key for compiled-template and render caches. */
  version: number;
  /**
   * Why the file was not read (it is a FIFO, a folder, unreadable...): the text is then empty,
   * the template is never rendered, and the validator reports `unreadable-file`.
   */
  unreadable?: string;
}

export interface WorkspaceValidation {
  /** The prompt workspace folder (absolute). */
  root: string;
  /** Absolute path of the templates root. */
  templatesRoot: string;
  serviceMappingsFile: string;
  compositionRulesFile: string;
  /** Every diagnostic of every file of the workspace, sorted by file and position. */
  diagnostics: PromptDiagnostic[];
  errorCount: number;
  warningCount: number;
  /** Absent when the file does not exist or is not valid YAML. */
  serviceMappings?: ServiceMappingsModel;
  compositionRules?: CompositionRulesModel;
  /** Every template under the templates root, by name. */
  templates: Map<string, TemplateEntry>;
  /**
   * Errors outside the prompt test files: the ones that keep an engine from loading. A mistake
   * in a test is the tests' problem, never a reason to refuse the application's configuration.
   */
  configErrorCount: number;
  /** Every prompt test file checked (`prompt_tests.yaml`, `prompt_tests/**.yaml`), parsed or not. */
  promptTestFiles: string[];
  /**
   * The models of the test files that parse, in `promptTestFiles` order. A test whose name an
   * earlier test already has is reported (`invalid-test`) and only the first one runs.
   */
  promptTests: PromptTestFileModel[];
  /** The context files tests name that parse as JSON objects, by absolute path: what the tests run with. */
  contextFiles: Map<string, Record<string, unknown>>;
  /**
   * The line index of each configuration file's text as this validation read it (by absolute
   * path): where a diagnostic's range falls among the model's nodes (errorScope.ts). Absent for
   * a file not read, and in a validation built by hand.
   */
  configLines?: ReadonlyMap<string, LineIndex>;
}

export interface ValidateOptions {
  fs?: FileSystemHost;
  /** Texts that win over the file system (open editor buffers), by absolute path. */
  overlays?: ReadonlyMap<string, string>;
  /** Overrides the templates root (absolute, or relative to the workspace): the editor's `promptManager.templatesRoot` setting. */
  templatesRoot?: string;
  /** False: the prompt test files are not read (an engine loading its configuration). Default true. */
  promptTests?: boolean;
}
