"""A tiny BERT with random weights and a character-level vocabulary, built on the spot."""
import string
from pathlib import Path

from transformers import BertConfig, BertModel, BertTokenizerFast

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_tokenizer() -> BertTokenizerFast:
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = SPECIALS + chars + [f"##{c}" for c in chars]
    return BertTokenizerFast(vocab={tok: i for i, tok in enumerate(vocab)}, do_lower_case=True)


def tiny_config(tokenizer, dropout: float = 0.1, **extra) -> BertConfig:
    return BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                      hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, **extra)


def build_tiny_bert(dest: Path, seed: int = 0, dropout: float = 0.1, model_class=BertModel,
                    **config) -> Path:
    """A tiny pretrained-model folder; with another `model_class` (and e.g. id2label), a tiny
    checkpoint "fine-tuned" for a task, head included."""
    import torch
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    dest = Path(dest)
    model_class(tiny_config(tokenizer, dropout, **config)).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest
