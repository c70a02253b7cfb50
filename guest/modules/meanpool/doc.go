// Command meanpool is wasmgate's sentence-embedding post-processing module:
// it mean-pools an encoder's token embeddings and L2-normalises the result,
// as sentence-transformers' mean pooling followed by Normalize does.
//
// Input "last_hidden_state" (FP32 [1,T,H]): the encoder's output for one
// sequence of T tokens. Output "embedding" (FP32 [1,H]): the mean over the
// T tokens, divided by its L2 norm (or by 1e-12 if the norm is smaller, as
// torch's F.normalize does).
//
// The attention mask. Sentence-transformers weights the mean by the
// attention mask so that padding does not count. A post stage receives
// only the core's outputs (docs/ABI.md §3), so the mask cannot reach it;
// instead the pipeline guarantees there is no padding: bertpre never pads
// (each request is one sequence of its own length and its attention_mask
// is all 1), so the masked mean equals the plain mean over T, and a stock
// encoder export (inputs input_ids, attention_mask, token_type_ids; output
// last_hidden_state) needs no change. A pre stage that pads would make this
// module average padding in: do not pair it with one.
//
// The mean is computed by the host (ReduceMean through the op host
// function), where it runs natively and a large input stays host-held; the
// module reads back only the H means. Non-finite values mean the encoder
// misbehaved: status 2.
package main
