"""A tiny BERT with random weights and a character-level vocabulary, built on the spot."""
import string
from pathlib import Path

from transformers import BertConfig, BertModel, BertTokenizerFast

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_bert(dest: Path, seed: int = 0, dropout: float = 0.1) -> Path:
    import torch
    torch.manual_seed(seed)
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = SPECIALS + chars + [f"##{c}" for c in chars]
    tokenizer = BertTokenizerFast(vocab={tok: i for i, tok in enumerate(vocab)},
                                  do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128, hidden_dropout_prob=dropout,
                        attention_probs_dropout_prob=dropout)
    dest = Path(dest)
    BertModel(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest
